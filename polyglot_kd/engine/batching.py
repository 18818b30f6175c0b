"""Batches of variable-length features: padded, and grouped by length so little compute goes to padding."""

from __future__ import annotations

import numpy as np
import torch

from polyglot_kd.core.errors import PolyglotError

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


class LengthBatches:
    """Step-indexed training batches of example indices, grouped by length.

    `batch(step)` is a pure function of the step, so a resumed run sees exactly the batches an
    uninterrupted one would have seen. Epoch e is drawn from a generator seeded by [seed, e]: a
    permutation of the examples (with `drop_last`, cut to whole batches), sorted by length inside
    chunks of `group` batches, cut into batches, and the batches permuted. Sorting inside chunks cuts
    padding, the main cost on CPU, without ordering the whole epoch by length.
    """

    def __init__(self, lengths, batch_size: int, seed: int, group: int = 50, drop_last: bool = True):
        self.lengths = np.asarray(lengths)
        if batch_size < 1 or group < 1:
            raise PolyglotError(f"batch size {batch_size} and group {group} must be >= 1")
        if len(self.lengths) < (batch_size if drop_last else 1):
            raise PolyglotError(f"{len(self.lengths)} training examples are fewer than one batch of {batch_size}")
        self.batch_size, self.seed, self.group, self.drop_last = batch_size, seed, group, drop_last
        self.per_epoch = (len(self.lengths) // batch_size if drop_last
                          else -(-len(self.lengths) // batch_size))
        self._cached: tuple[int, list[np.ndarray]] | None = None

    def __len__(self) -> int:
        """Batches per epoch."""
        return self.per_epoch

    def epoch(self, epoch: int) -> list[np.ndarray]:
        if self._cached is None or self._cached[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.lengths))
            if self.drop_last:
                order = order[: self.per_epoch * self.batch_size]
            chunk = self.group * self.batch_size
            batches = []
            for start in range(0, len(order), chunk):
                part = order[start:start + chunk]
                part = part[np.argsort(self.lengths[part], kind="stable")]  # stable: ties keep the shuffled order
                batches += [part[j:j + self.batch_size] for j in range(0, len(part), self.batch_size)]
            self._cached = (epoch, [batches[i] for i in rng.permutation(len(batches))])
        return self._cached[1]

    def batch(self, step: int) -> np.ndarray:
        """Indices of the examples in batch `step` (counted over epochs)."""
        epoch, slot = divmod(step, self.per_epoch)
        return self.epoch(epoch)[slot]


def feature_batches(features: list[dict], batcher: LengthBatches, epoch: int, pad_id: int,
                    keys: tuple[str, ...]) -> list[dict[str, torch.Tensor]]:
    """Epoch `epoch` of `batcher` as padded tensors of `features`."""
    return [collate([features[i] for i in idx], pad_id, keys) for idx in batcher.epoch(epoch)]


def inference_batches(features: list[dict], batch_size: int, pad_id: int, keys: tuple[str, ...]):
    """(indices, batch) pairs in length order, for prediction."""
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield idx, collate([features[i] for i in idx], pad_id, keys)
