"""BiStil phase 1's objective on objects: alternating batches, the step's losses, the dev curve."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.methods.bistil import objective
from polyglot_kd.methods.bistil.config import DistillConfig
from polyglot_kd.methods.bistil.student import make_student
from tests.tiny import bert_encoder, unigram_tokenizer

EN = ["the cat sleeps on the sofa", "the dog runs in the garden", "a bird sings in the morning",
      "the cat runs in the garden"]
PT = ["o gato dorme no sofá", "o cão corre no jardim", "um pássaro canta de manhã", "o gato corre no jardim"]


@pytest.fixture(scope="module")
def tiny():
    tokenizer = unigram_tokenizer()
    torch.manual_seed(0)
    teacher = bert_encoder(len(tokenizer), tokenizer.pad_token_id, layers=2)
    return teacher, tokenizer


def test_batches_alternate_languages_and_cover_each_verse_once_per_epoch():
    pairs = ParallelSet("x", [f"en {i} " * (i % 7 + 1) for i in range(500)], [f"pt {i} " * (i % 5 + 1) for i in range(500)])
    batches = objective.BilingualBatches(pairs, 16, seed=0)
    assert [batches(b)[0] for b in range(6)] == ["target", "source"] * 3
    side, texts, translations = batches(0)
    assert all(pairs.source[pairs.target.index(t)] == s for t, s in zip(texts, translations))
    assert batches(1)[1] == [pairs.source[pairs.target.index(t)] for t in batches(1)[2]]  # source side: English first
    epoch = [t for b in range(0, 2 * batches.per_epoch, 2) for t in batches(b)[1]]
    assert len(epoch) == len(set(epoch)) == batches.per_epoch * 16
    assert objective.BilingualBatches(pairs, 16, seed=0)(9) == batches(9)
    assert objective.BilingualBatches(pairs, 16, seed=1)(9) != batches(9)
    with pytest.raises(PolyglotError, match="3 parallel verses, fewer than one batch of 16"):
        objective.BilingualBatches(ParallelSet("x", EN[:3], PT[:3]), 16, seed=0)


def test_a_bottom_cut_student_starts_at_zero_token_level_loss(tiny):
    """Cut from the teacher's bottom layer, the student's mapped hidden states and attention maps are
    the teacher's: those parts are 0 and the pooled loss is not; target batches add the contrastive
    loss against the English translations, source batches have none."""
    teacher, tokenizer = tiny
    d = DistillConfig(contrastive_weight=0.5, max_length=32)
    student = make_student(teacher, [0])
    module = objective.DistillStudent(student.model, student.hidden_projection)
    batches = objective.BilingualBatches(ParallelSet("x", EN, PT), 2, seed=0)
    loss_fn = objective.make_loss_fn(d, teacher, lambda: module, [0], tokenizer, batches, torch.device("cpu"))
    total, parts = loss_fn(0)
    assert set(parts) == {"pooled", "hidden", "attention", "contrastive"}
    assert parts["hidden"] < 1e-10 and parts["attention"] < 1e-10 and parts["pooled"] > 1e-4
    weighted = sum(getattr(d, f"{name}_weight") * value for name, value in parts.items())
    assert float(total.detach()) == pytest.approx(weighted, rel=1e-5)
    _, source_parts = loss_fn(1)
    assert "contrastive" not in source_parts
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_a_student_with_its_own_tokenizer_keeps_the_sentence_level_losses():
    d = DistillConfig()
    only = objective.sentence_level_only(d)
    assert only.hidden_weight == only.attention_weight == 0 and only.pooled_weight == d.pooled_weight
    assert objective.sentence_level_only(only) is only
    with pytest.raises(PolyglotError, match="only the sentence-level losses apply"):
        objective.sentence_level_only(dataclasses.replace(d, pooled_weight=0.0, contrastive_weight=0.0))


def test_the_dev_curve_scores_the_given_set_and_the_teachers_retention(tiny):
    teacher, tokenizer = tiny
    dev = ParallelSet("dev", EN, PT)
    evaluate = objective.dev_retrieval(dev, "", teacher, tokenizer, teacher)
    scores = evaluate()
    assert 0 <= scores["dev_retrieval"] <= 1 and scores["dev_retention"] == pytest.approx(1.0)


def test_a_narrower_student_is_compared_with_the_teacher_in_the_teachers_space():
    import torch

    from polyglot_kd.methods.bistil.objective import DistillStudent
    from polyglot_kd.methods.bistil.student import make_student
    from tests.tiny import bert_encoder

    teacher = bert_encoder(50, 1, layers=2, hidden=32)
    student = make_student(teacher, [0], hidden_size=16)
    out, hidden = DistillStudent(student.model, student.hidden_projection)(
        input_ids=torch.tensor([[2, 5, 7]]), attention_mask=torch.ones(1, 3, dtype=torch.long), output_hidden_states=True)
    assert out.last_hidden_state.shape[-1] == 32 and all(h.shape[-1] == 32 for h in hidden)
