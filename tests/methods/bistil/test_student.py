"""Student initialisation (layer choice, cutting, narrowing) and its layer map on tiny in-process encoders."""

from __future__ import annotations

import pytest
import torch

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.methods.bistil.layer_stack import layer_list
from polyglot_kd.methods.bistil.student import layer_map, make_student, select_layers
from tests.tiny import CORPUS, bert_encoder, unigram_tokenizer


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


def test_the_layer_map_pairs_hidden_states_past_the_embeddings_and_attention_maps_as_they_are(teacher):
    """hidden_states[0] is the embedding output, attentions[0] the first layer's: a student cut from
    teacher layers [1, 3] compares hidden states (1, 2), (2, 4) and attention maps (0, 1), (1, 3); for a
    student cut from the bottom layers, every mapped pair is equal before training."""
    pairs = layer_map([1, 3])
    assert pairs.hidden == [(1, 2), (2, 4)] and pairs.attention == [(0, 1), (1, 3)]
    ids = torch.tensor([[0, 5, 7, 2]])
    bottom = layer_map([0, 1])
    s = make_student(teacher, [0, 1]).model(input_ids=ids, output_hidden_states=True, output_attentions=True)
    t = teacher(input_ids=ids, output_hidden_states=True, output_attentions=True)
    assert all(torch.allclose(s.hidden_states[a], t.hidden_states[b], atol=1e-6) for a, b in bottom.hidden)
    assert all(torch.allclose(s.attentions[a], t.attentions[b], atol=1e-6) for a, b in bottom.attention)
    assert not torch.allclose(s.hidden_states[2], t.hidden_states[3], atol=1e-3)  # off by one: not the pair


def test_a_selected_narrow_student_keeps_coordinates_and_whole_heads():
    from polyglot_kd.core.errors import PolyglotError
    from polyglot_kd.core.pooling import mean_pool
    from polyglot_kd.methods.bistil.student import make_student
    from tests.tiny import bert_encoder

    teacher = bert_encoder(50, 1, layers=2, hidden=32)  # 4 heads of 8
    ids, mask = torch.tensor([[2, 5, 7, 9]]), torch.ones(1, 4, dtype=torch.long)
    same = make_student(teacher, [0, 1], hidden_size=32, width_init="select")
    with torch.no_grad():
        reference = teacher(input_ids=ids, attention_mask=mask).last_hidden_state
        assert torch.allclose(same.model(input_ids=ids, attention_mask=mask).last_hidden_state, reference, atol=1e-5)
    narrow = make_student(teacher, [0, 1], hidden_size=16, width_init="select")
    assert narrow.model.config.hidden_size == 16 and narrow.model.config.num_attention_heads == 2
    projection = narrow.hidden_projection.weight
    assert projection.shape == (32, 16) and torch.equal(projection.sum(0), torch.ones(16))  # picks coordinates
    with torch.no_grad():
        out = narrow.hidden_projection(narrow.model(input_ids=ids, attention_mask=mask).last_hidden_state)
    assert torch.isfinite(out).all() and out.shape == reference.shape
    with pytest.raises(PolyglotError, match="multiple of the teacher's head size 8"):
        make_student(teacher, [0], hidden_size=12, width_init="select")


def test_full_rank_factorised_student_reproduces_the_cut(teacher, tmp_path):
    """Rank = width is an exact factorisation: the same outputs as the unfactorised cut, and it saves
    and loads back through AutoModel with far fewer embedding numbers at a lower rank."""
    from polyglot_kd.core.loading import load_encoder, parameter_count

    ids = torch.tensor([[0, 5, 9, 17, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    plain = make_student(teacher, [0, 1])
    exact = make_student(teacher, [0, 1], embedding_rank=32)
    a = plain.model(input_ids=ids, attention_mask=mask).last_hidden_state
    b = exact.model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(a, b, atol=1e-4)
    low = make_student(teacher, [0, 1], embedding_rank=8)
    assert parameter_count(plain.model) - parameter_count(low.model) == 120 * 32 - (120 * 8 + 8 * 32)
    low.model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = load_encoder(tmp_path)
    assert loaded.config.embedding_rank == 8
    assert torch.allclose(loaded(input_ids=ids, attention_mask=mask).last_hidden_state,
                          low.model(input_ids=ids, attention_mask=mask).last_hidden_state, atol=1e-5)


def test_factorised_narrow_student_and_a_rank_above_the_width(teacher):
    student = make_student(teacher, [0, 1], hidden_size=16, embedding_rank=4)
    assert student.model.get_input_embeddings().weight.shape == (120, 16)
    with pytest.raises(PolyglotError, match="embedding rank 20 is above the student's width 16"):
        make_student(teacher, [0, 1], hidden_size=16, embedding_rank=20)


def test_a_narrower_ffn_drops_the_neurons_that_write_nothing(teacher):
    """Neurons whose output weights are zero contribute nothing: keeping the others gives the same
    outputs with a smaller inner size, whichever importance ranks them (weights or activations)."""
    from polyglot_kd.methods.bistil.ffn import activation_importance

    torch.manual_seed(1)
    model = bert_encoder(vocab_size=120, pad_token_id=1, layers=2, hidden=32)
    silent = torch.arange(0, 64, 2)  # half of each layer's 64 neurons
    with torch.no_grad():
        for layer in layer_list(model):
            layer.output.dense.weight[:, silent] = 0.0
    ids, mask = torch.tensor([[0, 5, 9, 17, 2, 1]]), torch.tensor([[1, 1, 1, 1, 1, 0]])
    reference = model(input_ids=ids, attention_mask=mask).last_hidden_state
    tokenizer = unigram_tokenizer()
    activations = activation_importance(model, [0, 1], tokenizer, CORPUS)
    assert set(activations) == {0, 1} and activations[0].strength.shape == (64,) and (activations[0].strength > 0).all()
    for ranking in (None, activations):
        student = make_student(model, [0, 1], ffn_size=32, ffn_activations=ranking)
        assert student.model.config.intermediate_size == 32
        assert layer_list(student.model)[0].intermediate.dense.weight.shape == (32, 32)
        out = student.model(input_ids=ids, attention_mask=mask).last_hidden_state
        assert torch.allclose(out, reference, atol=1e-3)  # the refit's ridge moves it a little
    fewer = make_student(model, [0, 1], ffn_size=16).model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert not torch.allclose(fewer, reference, atol=1e-3)  # now real neurons are gone
    with pytest.raises(PolyglotError, match="ffn_size: 65 is above the teacher's inner size 64"):
        make_student(model, [0], ffn_size=65)


def test_the_refit_carries_a_removed_constant_neuron_in_the_bias():
    """A neuron that fires the same value on every token is a constant: pruned, the least-squares refit
    moves its output into the bias, so the block still writes it."""
    from polyglot_kd.methods.bistil.ffn import NeuronStats, activation_importance, prune_ffn

    torch.manual_seed(2)
    model = bert_encoder(vocab_size=120, pad_token_id=1, layers=1, hidden=32)
    layer = layer_list(model)[0]
    with torch.no_grad():
        layer.intermediate.dense.weight[:32] = 0.0  # neurons 0..31: GELU(1) whatever the input
        layer.intermediate.dense.bias[:32] = 1.0
    ids = torch.tensor([[0, 5, 9, 17, 2]])
    reference = model(input_ids=ids).last_hidden_state
    sample = activation_importance(model, [0], unigram_tokenizer(), CORPUS)[0]
    last = NeuronStats(torch.cat([torch.zeros(32), torch.ones(32)]), sample.gram)  # the constants ranked last
    pruned = prune_ffn(model, 32, {0: last})
    assert torch.allclose(pruned(input_ids=ids).last_hidden_state, reference, atol=1e-3)
    unfitted = prune_ffn(model, 32, None)  # weight ranking, no refit: the constants' output is lost
    assert not torch.allclose(unfitted(input_ids=ids).last_hidden_state, reference, atol=1e-2)


def test_ffn_sizes_are_checked_before_work():
    from polyglot_kd.methods.bistil.config import DistillConfig

    assert any("distill.ffn_size: -1" in p for p in DistillConfig(ffn_size=-1).check())
    assert "ffn_size" not in DistillConfig().phase1()  # builds made before the field keep their inputs hash
    assert DistillConfig(ffn_size=768).phase1()["ffn_size"] == 768
