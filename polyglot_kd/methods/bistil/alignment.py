"""Token-level distillation across two tokenizers, aligned by character offsets.

A student with its own tokenizer (embed-init) splits a sentence into other tokens than the teacher, so
position i on one side is not position i on the other. Words are: each whitespace-free span of the
sentence. A token belongs to every word its character span overlaps (special tokens have empty spans
and belong to none). Both sides are then pooled to words:

- hidden states: a word's state is the mean of its tokens' states, on each side;
- attention: the mass a word's tokens (averaged over them) put on another word's tokens (summed over
  them), renormalised over the words: a distribution over the same words on both sides, so MSE or KL
  between them is sound. It ignores how the mass is spread inside a word, which the two tokenizers
  cannot agree on anyway.

Words that have no token on one side (cut by truncation) are left out of both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

WORD = re.compile(r"\S+")


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in WORD.finditer(text)]


def membership(offsets: torch.Tensor, spans: list[list[tuple[int, int]]], words: int) -> torch.Tensor:
    """(batch, words, tokens) 0/1: token t overlaps word w. `offsets` (batch, tokens, 2) from a fast
    tokenizer's offset_mapping."""
    batch, tokens, _ = offsets.shape
    member = torch.zeros(batch, words, tokens)
    start, end = offsets[..., 0], offsets[..., 1]
    real = end > start
    for b, text_spans in enumerate(spans):
        for w, (ws, we) in enumerate(text_spans[:words]):
            member[b, w] = (real[b] & (start[b] < we) & (end[b] > ws)).float()
    return member


@dataclass
class WordAlignment:
    """The word pooling of one batch on both sides; `mask` (batch, words) marks the words both sides have."""

    student: torch.Tensor
    teacher: torch.Tensor
    mask: torch.Tensor

    @classmethod
    def of(cls, texts: list[str], student_offsets: torch.Tensor, teacher_offsets: torch.Tensor) -> WordAlignment:
        spans = [word_spans(t) for t in texts]
        words = max(1, max(len(s) for s in spans))
        s, t = membership(student_offsets, spans, words), membership(teacher_offsets, spans, words)
        mask = (s.sum(-1) > 0) & (t.sum(-1) > 0)
        return cls(s, t, mask)

    def to(self, device) -> WordAlignment:
        return WordAlignment(self.student.to(device), self.teacher.to(device), self.mask.to(device))


def word_states(hidden: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """(batch, words, hidden): the mean of each word's token states."""
    member = member.to(hidden.dtype)
    return member @ hidden / member.sum(-1, keepdim=True).clamp_min(1)


def word_attention(attention: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """(batch, heads, words, words) from (batch, heads, tokens, tokens): rows averaged over a word's
    query tokens, columns summed over a word's key tokens, rows renormalised over the words."""
    member = member.to(attention.dtype)
    rows = member / member.sum(-1, keepdim=True).clamp_min(1)
    pooled = rows[:, None] @ attention @ member.transpose(1, 2)[:, None]
    return pooled / pooled.sum(-1, keepdim=True).clamp_min(1e-9)


def aligned_hidden_loss(student: tuple, teacher: tuple, layer_map, alignment: WordAlignment) -> torch.Tensor:
    """MSE between word states of mapped layers, over the words both sides have."""
    m = alignment.mask.unsqueeze(-1).to(student[0].dtype)
    total = 0.0
    for s, t in layer_map:
        ws, wt = word_states(student[s], alignment.student), word_states(teacher[t].to(student[s].dtype), alignment.teacher)
        total = total + (((ws - wt) ** 2) * m).sum() / (m.sum().clamp_min(1) * ws.shape[-1])
    return total / len(layer_map)


def aligned_attention_loss(student: tuple, teacher: tuple, layer_map, alignment: WordAlignment,
                           kind: str = "mse") -> torch.Tensor:
    """MSE or KL between word-level attention distributions of mapped layers (heads averaged when the
    student kept fewer), over query and key words both sides have."""
    mask = alignment.mask.to(student[0].dtype)
    pair = mask[:, None, :, None] * mask[:, None, None, :]
    total = 0.0
    for s, t in layer_map:
        ps = word_attention(student[s], alignment.student)
        pt = word_attention(teacher[t].to(student[s].dtype), alignment.teacher)
        if ps.shape[1] != pt.shape[1]:
            ps, pt = ps.mean(1, keepdim=True), pt.mean(1, keepdim=True)
        if kind == "kl":
            value = pt * (torch.log(pt.clamp_min(1e-9)) - torch.log(ps.clamp_min(1e-9)))
            total = total + (value * pair).sum() / (mask.sum().clamp_min(1) * ps.shape[1])
        else:
            total = total + (((ps - pt) ** 2) * pair).sum() / pair.sum().clamp_min(1) / ps.shape[1]
    return total / len(layer_map)
