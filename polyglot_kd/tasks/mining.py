"""BUCC-style bitext mining: find the translation pairs hidden among unaligned sentences.

Each side holds the gold pairs' sentences plus distractors, sentences whose translation is not on
the other side (a share of the set's pairs is split off for them, half on each side). Candidates are
scored by the ratio margin of Artetxe & Schwenk (cosine over the mean similarity of each side's k
nearest neighbours), taken in both directions; a pair is predicted when its score reaches a
threshold. The threshold is chosen per model on the dev split (Acts) to maximise F1 there, then
F1 / precision / recall are reported on the held-out Gospels (and the UDHR where there is one).
Primary metric: F1, greater is better.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import corpora
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.tasks.task import Task

NAME = "mining"
PRIMARY_METRIC = "f1"
DISTRACTOR_SHARE = 0.2  # of the pairs, per side: 60% gold pairs, 20% source-only, 20% target-only
NEIGHBOURS = 4


@dataclass(frozen=True)
class MiningSet:
    """Two monolingual sides and the gold links between them (source index, target index)."""

    name: str
    source: list[str]
    target: list[str]
    gold: frozenset[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.gold)


def mining_set(pairs: ParallelSet, share: float = DISTRACTOR_SHARE, seed: int = 0) -> MiningSet:
    """Hide `share` of the pairs' targets and another `share` of their sources; shuffle both sides."""
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    n = int(len(order) * share)
    source_only, target_only, gold = order[:n], order[n:2 * n], order[2 * n:]
    src_ids = gold + source_only
    tgt_ids = gold + target_only
    rng.shuffle(src_ids)
    rng.shuffle(tgt_ids)
    src_pos = {pair: i for i, pair in enumerate(src_ids)}
    tgt_pos = {pair: j for j, pair in enumerate(tgt_ids)}
    links = frozenset((src_pos[g], tgt_pos[g]) for g in gold)
    return MiningSet(pairs.name, [pairs.source[i] for i in src_ids], [pairs.target[i] for i in tgt_ids], links)


def datasets(config: LanguageConfig) -> list[tuple[MiningSet, MiningSet]]:
    """(dev, test) pairs: the dev set (Acts) for the threshold with each test set (the Gospels, the UDHR
    where there is one, the user's)."""
    dev = mining_set(corpora.dev_set(config))
    return [(dev, mining_set(data)) for data in corpora.test_sets(config, config.eval.max_items).values()]


def margin_candidates(source: np.ndarray, target: np.ndarray, k: int = NEIGHBOURS) -> dict[tuple[int, int], float]:
    """Best target of each source and best source of each target, with their ratio-margin scores."""
    if len(source) == 0 or len(target) == 0:
        return {}
    sim = source @ target.T
    ks, kt = min(k, sim.shape[1]), min(k, sim.shape[0])
    src_knn = -np.sort(-sim, axis=1)[:, :ks].mean(1)  # mean similarity of each source's neighbours
    tgt_knn = -np.sort(-sim, axis=0)[:kt, :].mean(0)
    margin = sim / ((src_knn[:, None] + tgt_knn[None, :]) / 2)
    candidates = {}
    for i, j in enumerate(margin.argmax(1)):
        candidates[(i, int(j))] = float(margin[i, j])
    for j, i in enumerate(margin.argmax(0)):
        candidates[(int(i), j)] = float(margin[i, j])
    return candidates


def prf(candidates: dict[tuple[int, int], float], gold: frozenset, threshold: float) -> dict[str, float]:
    predicted = {pair for pair, score in candidates.items() if score >= threshold}
    hits = len(predicted & gold)
    p = hits / len(predicted) if predicted else 0.0
    r = hits / len(gold) if gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def best_threshold(candidates: dict[tuple[int, int], float], gold: frozenset) -> float:
    """The score threshold with the highest F1 (ties: the higher threshold)."""
    ranked = sorted(candidates.items(), key=lambda kv: -kv[1])
    best, best_f1, hits = float("inf"), -1.0, 0
    for n, (pair, score) in enumerate(ranked, 1):
        hits += pair in gold
        f1 = 2 * hits / (n + len(gold))
        if f1 > best_f1:
            best, best_f1 = score, f1
    return best


def evaluate(model, tokenizer, dataset: tuple[MiningSet, MiningSet], config: LanguageConfig, embed=None) -> dict:
    from polyglot_kd.tasks.retrieval import embedder

    embed = embed or embedder(model, tokenizer, config)
    dev, test = dataset
    dev_candidates = margin_candidates(embed(dev.source), embed(dev.target))
    threshold = best_threshold(dev_candidates, dev.gold)
    dev_scores = prf(dev_candidates, dev.gold, threshold)
    scores = prf(margin_candidates(embed(test.source), embed(test.target)), test.gold, threshold)
    return scores | {"threshold": threshold, "dev_f1": dev_scores["f1"], "n_gold": len(test.gold),
                     "n_source": len(test.source), "n_target": len(test.target)}


TASK = Task(NAME, "embedding", PRIMARY_METRIC, True,
              "BUCC-style bitext mining with distractors on both sides; margin threshold chosen on Acts",
              datasets=datasets, evaluate=evaluate)
