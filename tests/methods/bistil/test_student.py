"""Student initialisation and distillation losses on tiny in-process encoders."""

from __future__ import annotations

import pytest
import torch

from polyglot_kd.methods.bistil import losses as L
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.methods.bistil.student import layer_list, make_student, select_layers
from tests.tiny import bert_encoder, unigram_tokenizer


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    return bert_encoder(vocab_size=120, pad_token_id=1, layers=4, hidden=32)


def test_layer_selection_rules():
    assert select_layers(12, 6, "bottom") == [0, 1, 2, 3, 4, 5]
    assert select_layers(12, 6, "regular") == [1, 3, 5, 7, 9, 11]  # BiStil: l % f == f - 1
    assert select_layers(12, 4, "regular") == [2, 5, 8, 11]
    assert select_layers(12, 0, "list", [0, 5, 11]) == [0, 5, 11]


@pytest.mark.parametrize("args, message", [
    ((12, 13, "bottom"), "cannot be cut from a teacher of 12"),
    ((12, 5, "regular"), "multiple"),
    ((12, 0, "list", [0, 12]), "bad: \\[12\\]"),
    ((12, 0, "list", [3, 1]), "strictly increasing"),
    ((12, 6, "every"), "unknown layer selection 'every'"),
])
def test_bad_layer_choices_are_refused(args, message):
    with pytest.raises(PolyglotError, match=message):
        select_layers(*args)


def test_student_layers_are_the_chosen_teacher_layers(teacher):
    student = make_student(teacher, [1, 3])
    assert student.model.config.num_hidden_layers == 2 and student.hidden_projection is None
    t_layers, s_layers = layer_list(teacher), layer_list(student.model)
    for s, t in enumerate([1, 3]):
        for (name, a), (_, b) in zip(s_layers[s].state_dict().items(), t_layers[t].state_dict().items()):
            assert torch.equal(a, b), name
    assert torch.equal(student.model.get_input_embeddings().weight, teacher.get_input_embeddings().weight)
    assert student.model is not teacher and layer_list(teacher)[0] is not s_layers[0]


def test_full_depth_student_reproduces_the_teacher(teacher):
    student = make_student(teacher, [0, 1, 2, 3])
    ids = torch.tensor([[0, 5, 9, 17, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    a = teacher(input_ids=ids, attention_mask=mask).last_hidden_state
    b = student.model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(a, b, atol=1e-6)


def test_narrow_student(teacher):
    student = make_student(teacher, [0, 1], hidden_size=16)
    assert student.model.config.hidden_size == 16
    assert student.model.get_input_embeddings().weight.shape == (120, 16)
    out = student.model(input_ids=torch.tensor([[0, 5, 2]]), output_hidden_states=True)
    assert student.hidden_projection(out.hidden_states[-1]).shape == (1, 3, 32)
    with pytest.raises(PolyglotError, match="does not divide"):
        make_student(teacher, [0], hidden_size=18)
    with pytest.raises(PolyglotError, match="wider"):
        make_student(teacher, [0], hidden_size=64)


def test_losses_are_zero_for_identical_models_and_ignore_padding(teacher):
    tok = unigram_tokenizer()
    enc = tok(["the cat sleeps on the sofa", "o gato"], padding=True, return_tensors="pt")
    ids = enc["input_ids"] % 120
    mask = enc["attention_mask"]
    out = teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    pairs = [(1, 1), (2, 2)]
    assert L.hidden_loss(out.hidden_states, out.hidden_states, mask, pairs).item() == 0
    assert L.attention_loss(out.attentions, out.attentions, mask, [(0, 0)], kind="kl").abs().item() < 1e-6
    assert L.pooled_loss(L.pooled(out, mask), L.pooled(out, mask)).item() < 1e-10
    # values at padded positions must not change the losses
    noisy = tuple(h + 5.0 * (1 - mask).unsqueeze(-1) for h in out.hidden_states)
    assert L.hidden_loss(noisy, out.hidden_states, mask, pairs).item() < 1e-10
    noisy_attn = tuple(a + 0.3 * (1 - mask)[:, None, None, :] for a in out.attentions)
    assert L.attention_loss(noisy_attn, out.attentions, mask, [(0, 0)]).item() < 1e-10
    other = make_student(teacher, [2, 3]).model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert L.hidden_loss(other.hidden_states, out.hidden_states, mask, [(1, 1)]).item() > 0


def test_soft_cross_entropy_is_minimal_at_the_teacher():
    teacher = torch.tensor([[2.0, 0.5, -1.0]])
    at_teacher = L.soft_cross_entropy(teacher.clone(), teacher, temperature=2.0)
    elsewhere = L.soft_cross_entropy(torch.tensor([[0.0, 2.0, 0.0]]), teacher, temperature=2.0)
    assert elsewhere > at_teacher
    assert set(L.LOSSES) == {"hidden", "attention", "pooled", "contrastive", "soft_ce"}


def test_contrastive_loss_prefers_matched_pairs():
    torch.manual_seed(0)
    teacher = torch.randn(6, 16)
    matched = L.contrastive_loss(teacher + 0.01 * torch.randn(6, 16), teacher)
    shuffled = L.contrastive_loss(teacher[torch.tensor([1, 2, 3, 4, 5, 0])], teacher)
    assert matched < 0.05 < shuffled
