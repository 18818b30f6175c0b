"""Distillation losses as modules with `forward(student, teacher, mask)` (torchtune's kd_losses style).

Each is declared by name in `polyglot_kd.methods.bistil.LOSSES`; its settings (a kind, a layer map, a
temperature) are constructor arguments and its weight comes from the config.

- HiddenLoss: MSE between student layer i's output and the output of the teacher layer it was cut
  from (the mapping must agree with how the student was cut, or the loss fights the initialisation);
- AttentionLoss: MSE or KL between attention distributions of the same layer pairs, padding excluded;
- PooledLoss: MSE or (1 - cosine) between L2-normalised mean-pooled sentence embeddings: a sentence-
  embedding teacher has no MLM head, and what users keep is its sentence embedding;
- ContrastiveLoss: in-batch InfoNCE between the student's target sentences and the teacher's English
  translations (parallel batches);
- SoftCrossEntropy: soft cross-entropy at temperature T against a task-tuned teacher's logits (phase 2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from polyglot_kd.core.pooling import mean_pool
from polyglot_kd.methods.bistil import LOSSES

LayerPairs = list[tuple[int, int]]


class HiddenLoss(nn.Module):
    """MSE over real tokens between mapped hidden states (index 0 is the embedding output); a narrower
    student's states are projected to the teacher's width first."""

    def __init__(self, layer_map: LayerPairs):
        super().__init__()
        self.layer_map = list(layer_map)

    def forward(self, student, teacher, mask) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(student[0].dtype)
        total = 0.0
        for s, t in self.layer_map:
            hs = student[s]
            total = total + (((hs - teacher[t]) ** 2) * m).sum() / (m.sum() * hs.shape[-1])
        return total / len(self.layer_map)


class AttentionLoss(nn.Module):
    """Attention maps (batch, heads, query, key) compared on real query rows and key columns."""

    def __init__(self, layer_map: LayerPairs, kind: str = "mse"):
        super().__init__()
        self.layer_map, self.kind = list(layer_map), _checked_kind("attention", kind)

    def forward(self, student, teacher, mask) -> torch.Tensor:
        pair_mask = (mask[:, None, :, None] * mask[:, None, None, :]).to(student[0].dtype)
        rows = mask[:, None, :].to(student[0].dtype)
        total = 0.0
        for s, t in self.layer_map:
            ps, pt = student[s], teacher[t]
            if ps.shape[1] != pt.shape[1]:  # a student that kept fewer heads: compare the heads' average maps
                ps, pt = ps.mean(1, keepdim=True), pt.mean(1, keepdim=True)
            if self.kind == "kl":
                kl = (pt * (torch.log(pt.clamp_min(1e-9)) - torch.log(ps.clamp_min(1e-9)))) * pair_mask
                total = total + kl.sum() / (rows.sum() * ps.shape[1])
            else:
                total = total + (((ps - pt) ** 2) * pair_mask).sum() / pair_mask.sum().clamp_min(1) / ps.shape[1]
        return total / len(self.layer_map)


class PooledLoss(nn.Module):
    """Between normalised sentence embeddings (batch, hidden); MSE of unit vectors is 2 - 2 cos. The
    embeddings are pooled already, so `mask` is unused."""

    def __init__(self, kind: str = "mse"):
        super().__init__()
        self.kind = _checked_kind("pooled", kind)

    def forward(self, student, teacher, mask=None) -> torch.Tensor:
        s = F.normalize(student, dim=-1)
        t = F.normalize(teacher, dim=-1)
        if self.kind == "cosine":
            return (1 - (s * t).sum(-1)).mean()
        return ((s - t) ** 2).sum(-1).mean()


class ContrastiveLoss(nn.Module):
    """In-batch InfoNCE on pooled embeddings: each student sentence must be nearer its translation's
    teacher embedding than the other sentences' (what retrieval measures; MSE alone does not rank)."""

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        self.temperature = temperature

    def forward(self, student, teacher, mask=None) -> torch.Tensor:
        logits = F.normalize(student, dim=-1) @ F.normalize(teacher, dim=-1).T / self.temperature
        gold = torch.arange(len(logits), device=logits.device)
        return (F.cross_entropy(logits, gold) + F.cross_entropy(logits.T, gold)) / 2


class SoftCrossEntropy(nn.Module):
    """Cross-entropy against the teacher's softened distribution, scaled by T^2 as usual; with a
    `mask`, over the positions where it is true (e.g. the labelled tokens) only."""

    def __init__(self, temperature: float = 2.0):
        super().__init__()
        self.temperature = temperature

    def forward(self, student, teacher, mask=None) -> torch.Tensor:
        if mask is not None:
            keep = mask.bool()
            student, teacher = student[keep], teacher[keep]
        t = F.softmax(teacher / self.temperature, dim=-1)
        log_s = F.log_softmax(student / self.temperature, dim=-1)
        return -(t * log_s).sum(-1).mean() * self.temperature ** 2


def _checked_kind(loss: str, kind: str) -> str:
    kinds = LOSSES.info(loss)["kinds"]  # the kinds a config may name are declared with the loss
    if kind not in kinds:
        raise ValueError(f"{loss} loss kind {kind!r}: expected one of {list(kinds)}")
    return kind


def pooled(output, mask) -> torch.Tensor:
    """The mean-pooled last hidden states of a model output."""
    return mean_pool(output.last_hidden_state, mask)
