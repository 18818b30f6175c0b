"""Batches of variable-length features: padded, and grouped by length so little compute goes to padding."""

from __future__ import annotations

import random

import torch

PAD_VALUES = {"labels": -100, "attention_mask": 0, "token_type_ids": 0}
SEQUENCE_KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def collate(features: list[dict], pad_id: int, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Pad the per-token lists among `keys` to the batch's longest; scalars become 1-d tensors."""
    longest = max(len(f["input_ids"]) for f in features)
    batch = {}
    for key in (k for k in keys if k in features[0]):
        values = [f[key] for f in features]
        if isinstance(values[0], list):
            pad = pad_id if key == "input_ids" else PAD_VALUES.get(key, 0)
            values = [v + [pad] * (longest - len(v)) for v in values]
        batch[key] = torch.tensor(values)
    return batch


def training_batches(features: list[dict], batch_size: int, rng: random.Random, pad_id: int,
                     keys: tuple[str, ...]) -> list[dict[str, torch.Tensor]]:
    """One epoch: shuffle, sort within pools of 50 batches by length, cut, shuffle the batches."""
    order = list(range(len(features)))
    rng.shuffle(order)
    pool = batch_size * 50
    chunks = []
    for start in range(0, len(order), pool):
        part = sorted(order[start:start + pool], key=lambda i: len(features[i]["input_ids"]))
        chunks += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(chunks)
    return [collate([features[i] for i in chunk], pad_id, keys) for chunk in chunks]


def inference_batches(features: list[dict], batch_size: int, pad_id: int, keys: tuple[str, ...]):
    """(indices, batch) pairs in length order, for prediction."""
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield idx, collate([features[i] for i in idx], pad_id, keys)
