"""The one training batcher: step-indexed, length-bucketed, and the distill stage's batches unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.engine.batching import LengthBatches, feature_batches


def distill_batches_before(texts: list[str], batch_size: int, seed: int, epoch: int, group: int = 50) -> list[np.ndarray]:
    """The distill stage's epoch as its `Batches` class drew it before the shared batcher."""
    per_epoch = len(texts) // batch_size
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(texts))[: per_epoch * batch_size]
    chunk = group * batch_size
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: len(texts[i]))
        batches += [np.array(part[j:j + batch_size]) for j in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


@pytest.mark.parametrize("n,batch_size,seed", [(500, 16, 0), (500, 16, 3), (3000, 32, 1), (37, 5, 2)])
def test_the_distill_stages_index_sequence_is_reproduced_exactly(n, batch_size, seed):
    rng = np.random.default_rng(123)
    texts = ["x" * int(k) for k in rng.integers(1, 12, n)]  # few distinct lengths: ties must keep their order
    batcher = LengthBatches([len(t) for t in texts], batch_size, seed)
    for epoch in range(3):
        expected = distill_batches_before(texts, batch_size, seed, epoch)
        got = [batcher.batch(epoch * len(batcher) + slot) for slot in range(len(batcher))]
        assert len(got) == len(expected) == n // batch_size
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def test_a_batch_is_a_pure_function_of_the_step():
    lengths = [i % 13 for i in range(200)]
    a, b = LengthBatches(lengths, 8, seed=0), LengthBatches(lengths, 8, seed=0)
    later = [a.batch(s).tolist() for s in (57, 3, 100, 3)]  # any order, any epoch
    assert later == [b.batch(s).tolist() for s in (57, 3, 100, 3)]
    assert a.batch(3).tolist() != LengthBatches(lengths, 8, seed=1).batch(3).tolist()
    assert [x.tolist() for x in a.epoch(0)] != [x.tolist() for x in a.epoch(1)]


def test_batches_are_length_grouped_and_cover_each_example_at_most_once_per_epoch():
    lengths = list(np.random.default_rng(0).integers(1, 100, 1000))
    batcher = LengthBatches(lengths, 10, seed=0, group=5)
    epoch = batcher.epoch(0)
    flat = np.concatenate(epoch)
    assert len(flat) == len(set(flat.tolist())) == 1000
    spread = np.mean([np.ptp(np.asarray(lengths)[b]) for b in epoch])
    assert spread < 0.5 * np.ptp(lengths)  # sorted inside chunks: batches hold similar lengths


def test_without_drop_last_the_partial_batch_is_kept():
    batcher = LengthBatches(list(range(23)), 5, seed=0, drop_last=False)
    assert len(batcher) == 5
    flat = sorted(np.concatenate(batcher.epoch(0)).tolist())
    assert flat == list(range(23)) and sorted(len(b) for b in batcher.epoch(0)) == [3, 5, 5, 5, 5]
    assert len(LengthBatches(list(range(23)), 5, seed=0)) == 4  # drop_last: whole batches only


def test_too_few_examples_are_refused():
    with pytest.raises(PolyglotError, match="fewer than one batch of 8"):
        LengthBatches([1, 2, 3], 8, seed=0)
    assert len(LengthBatches([1, 2, 3], 8, seed=0, drop_last=False)) == 1


def test_feature_batches_pad_each_batch_to_its_longest():
    features = [{"input_ids": [5] * n, "attention_mask": [1] * n, "labels": [0] * n} for n in (2, 7, 3, 3, 6)]
    batcher = LengthBatches([len(f["input_ids"]) for f in features], 2, seed=0, drop_last=False)
    batches = feature_batches(features, batcher, 0, pad_id=1, keys=("input_ids", "attention_mask", "labels"))
    assert sum(len(b["input_ids"]) for b in batches) == 5
    for b in batches:
        assert b["input_ids"].shape == b["labels"].shape
        assert ((b["labels"] == -100) == (b["attention_mask"] == 0)).all()
