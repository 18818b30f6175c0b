"""BUCC-style mining: set construction with distractors, margin scoring, dev threshold, F1."""

from __future__ import annotations

import numpy as np
import pytest

from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.tasks import mining


def _pairs(n):
    return ParallelSet("bible-test", [f"s{i}" for i in range(n)], [f"t{i}" for i in range(n)])


def test_mining_set_hides_distractors_on_both_sides():
    ms = mining.mining_set(_pairs(100), share=0.2, seed=3)
    assert len(ms.gold) == 60 and len(ms.source) == 80 and len(ms.target) == 80
    for i, j in ms.gold:  # every gold link joins a sentence to its own translation
        assert ms.source[i][1:] == ms.target[j][1:]
    linked_src = {i for i, _ in ms.gold}
    lonely = [ms.source[i][1:] for i in range(80) if i not in linked_src]
    assert not set(lonely) & {t[1:] for t in ms.target}  # distractors' translations are absent


def _embed(texts, noise, rng, dim=32):
    """Sentences s<k> and t<k> share a direction: a translation pair, up to noise."""
    base = {}
    out = []
    for t in texts:
        k = int(t[1:])
        if k not in base:
            base[k] = np.random.default_rng(k).normal(size=dim)
        v = base[k] + noise * rng.normal(size=dim)
        out.append(v / np.linalg.norm(v))
    return np.array(out, dtype=np.float32)


def test_margin_mining_finds_pairs_and_threshold_rejects_distractors():
    rng = np.random.default_rng(0)
    dev, test = mining.mining_set(_pairs(200), seed=1), mining.mining_set(_pairs(200), seed=2)
    cands = mining.margin_candidates(_embed(dev.source, 0.3, rng), _embed(dev.target, 0.3, rng))
    threshold = mining.best_threshold(cands, dev.gold)
    scores = mining.prf(mining.margin_candidates(_embed(test.source, 0.3, rng), _embed(test.target, 0.3, rng)),
                        test.gold, threshold)
    assert scores["f1"] > 0.95 and scores["precision"] > 0.95
    # without a threshold every distractor's best match counts as a pair: precision falls to ~0.75
    loose = mining.prf(cands, dev.gold, -np.inf)
    assert loose["recall"] == 1.0 and loose["precision"] < 0.8


def test_random_embeddings_score_near_zero():
    rng = np.random.default_rng(0)
    ms = mining.mining_set(_pairs(100))
    src, tgt = rng.normal(size=(80, 16)), rng.normal(size=(80, 16))
    cands = mining.margin_candidates(src / np.linalg.norm(src, axis=1, keepdims=True),
                                     tgt / np.linalg.norm(tgt, axis=1, keepdims=True))
    assert mining.prf(cands, ms.gold, mining.best_threshold(cands, ms.gold))["f1"] < 0.2


def test_best_threshold_maximises_f1():
    gold = frozenset({(0, 0), (1, 1)})
    cands = {(0, 0): 3.0, (2, 5): 2.5, (1, 1): 2.0, (3, 3): 1.0}
    t = mining.best_threshold(cands, gold)
    assert t == 2.0 and mining.prf(cands, gold, t)["f1"] == pytest.approx(0.8)
