"""Distillation losses. Each registers under a name in one line; weights come from the config.

- hidden: MSE between student layer i's output and the output of the teacher layer it was cut from
  (the mapping must agree with how the student was cut, or the loss fights the initialisation);
- attention: MSE or KL between attention distributions of the same layer pairs, padding excluded;
- pooled: MSE or (1 - cosine) between L2-normalised mean-pooled sentence embeddings: a sentence-
  embedding teacher has no MLM head, and what users keep is its sentence embedding;
- contrastive: in-batch InfoNCE between the student's target sentences and the teacher's English
  translations (parallel batches);
- soft_ce: soft cross-entropy at temperature T against a task-tuned teacher's logits (phase 2).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from polyglot_kd.core.pooling import mean_pool

LOSSES: dict[str, Callable] = {}


def register(name: str):
    def wrap(fn):
        LOSSES[name] = fn
        return fn
    return wrap


@register("hidden")
def hidden_loss(student_states, teacher_states, mask, layer_map: list[tuple[int, int]], **_) -> torch.Tensor:
    """MSE over real tokens between mapped hidden states (index 0 is the embedding output); a narrower
    student's states are projected to the teacher's width first."""
    m = mask.unsqueeze(-1).to(student_states[0].dtype)
    total = 0.0
    for s, t in layer_map:
        hs = student_states[s]
        total = total + (((hs - teacher_states[t]) ** 2) * m).sum() / (m.sum() * hs.shape[-1])
    return total / len(layer_map)


@register("attention")
def attention_loss(student_attn, teacher_attn, mask, layer_map: list[tuple[int, int]], kind: str = "mse", **_) -> torch.Tensor:
    """Attention maps (batch, heads, query, key) compared on real query rows and key columns."""
    pair_mask = (mask[:, None, :, None] * mask[:, None, None, :]).to(student_attn[0].dtype)
    rows = mask[:, None, :].to(student_attn[0].dtype)
    total = 0.0
    for s, t in layer_map:
        ps, pt = student_attn[s], teacher_attn[t]
        if kind == "kl":
            kl = (pt * (torch.log(pt.clamp_min(1e-9)) - torch.log(ps.clamp_min(1e-9)))) * pair_mask
            total = total + kl.sum() / (rows.sum() * ps.shape[1])
        else:
            total = total + (((ps - pt) ** 2) * pair_mask).sum() / pair_mask.sum().clamp_min(1) / ps.shape[1]
    return total / len(layer_map)


@register("pooled")
def pooled_loss(student_pooled, teacher_pooled, kind: str = "mse", **_) -> torch.Tensor:
    """Between normalised sentence embeddings; MSE of unit vectors is 2 - 2 cos, scaled per dimension."""
    s = F.normalize(student_pooled, dim=-1)
    t = F.normalize(teacher_pooled, dim=-1)
    if kind == "cosine":
        return (1 - (s * t).sum(-1)).mean()
    return ((s - t) ** 2).sum(-1).mean()


@register("contrastive")
def contrastive_loss(student_pooled, teacher_pooled, temperature: float = 0.05, **_) -> torch.Tensor:
    """In-batch InfoNCE: each student sentence must be nearer its translation's teacher embedding than
    the other sentences' (what retrieval measures; MSE alone does not rank)."""
    logits = F.normalize(student_pooled, dim=-1) @ F.normalize(teacher_pooled, dim=-1).T / temperature
    gold = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, gold) + F.cross_entropy(logits.T, gold)) / 2


@register("soft_ce")
def soft_cross_entropy(student_logits, teacher_logits, temperature: float = 2.0, **_) -> torch.Tensor:
    """Cross-entropy against the teacher's softened distribution, scaled by T^2 as usual."""
    t = F.softmax(teacher_logits / temperature, dim=-1)
    log_s = F.log_softmax(student_logits / temperature, dim=-1)
    return -(t * log_s).sum(-1).mean() * temperature ** 2


def pooled(output, mask) -> torch.Tensor:
    return mean_pool(output.last_hidden_state, mask)
