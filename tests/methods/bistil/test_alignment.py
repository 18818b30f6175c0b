"""Word alignment of two tokenizations by character offsets, and the losses computed on it."""

from __future__ import annotations

import torch

from polyglot_kd.methods.bistil import alignment
from tests.tiny import EN, PT, unigram_tokenizer, wordpiece_tokenizer

TEXTS = EN[:2] + PT[:1] + ["gato, cão e pássaro!"]


def _offsets(tokenizer, texts=TEXTS):
    return tokenizer(texts, padding=True, return_offsets_mapping=True, return_tensors="pt")


def test_every_word_has_tokens_on_both_sides_and_specials_belong_to_none():
    uni, wp = _offsets(unigram_tokenizer()), _offsets(wordpiece_tokenizer())
    align = alignment.WordAlignment.of(TEXTS, uni["offset_mapping"], wp["offset_mapping"])
    n_words = [len(t.split()) for t in TEXTS]
    assert align.mask.sum(1).tolist() == n_words  # no word lost, padding words masked
    assert align.student[:, :, 0].sum() == 0 and align.teacher[:, :, 0].sum() == 0  # <s> / [CLS]
    # each token holding text belongs to exactly one word (whitespace splits words); a bare '▁' to none
    spans = uni["offset_mapping"].tolist()
    holds_text = torch.tensor([[TEXTS[b][s:e].strip() != "" for s, e in row] for b, row in enumerate(spans)])
    assert torch.equal(align.student.sum(1), holds_text.float())


def test_one_tokenizer_on_both_sides_gives_zero_losses_and_attention_rows_sum_to_one():
    tok = unigram_tokenizer()
    enc = _offsets(tok)
    align = alignment.WordAlignment.of(TEXTS, enc["offset_mapping"], enc["offset_mapping"])
    torch.manual_seed(0)
    hidden = (torch.randn(len(TEXTS), enc["input_ids"].shape[1], 8),)
    attention = (torch.softmax(torch.randn(len(TEXTS), 2, enc["input_ids"].shape[1], enc["input_ids"].shape[1]), -1),)
    assert alignment.aligned_hidden_loss(hidden, hidden, [(0, 0)], align) == 0
    assert alignment.aligned_attention_loss(attention, attention, [(0, 0)], align, "kl").abs() < 1e-6
    words = alignment.word_attention(attention[0], align.student)
    has_words = align.mask.any(-1)
    assert torch.allclose(words[has_words].sum(-1)[..., : 1], torch.ones(1))
    other = (hidden[0] + 1,)
    assert alignment.aligned_hidden_loss(other, hidden, [(0, 0)], align) > 0


def test_word_states_are_the_mean_of_their_tokens():
    member = torch.tensor([[[0, 1, 1, 0], [0, 0, 0, 1]]], dtype=torch.float)
    hidden = torch.arange(8, dtype=torch.float).reshape(1, 4, 2)
    assert alignment.word_states(hidden, member).tolist() == [[[3.0, 4.0], [6.0, 7.0]]]
