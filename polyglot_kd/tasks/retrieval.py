"""Tatoeba-style sentence retrieval: for each sentence, is its translation the nearest neighbour?

Accuracy in both directions (source->target, target->source) by cosine similarity of mean-pooled
embeddings; the primary metric is their mean, greater is better.
"""

from __future__ import annotations

import numpy as np

from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import corpora
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.core.pooling import encode
from polyglot_kd.tasks.task import Task

NAME = "retrieval"
PRIMARY_METRIC = "mean"
GREATER_IS_BETTER = True


def datasets(config: LanguageConfig) -> list[ParallelSet]:
    """The held-out Gospel verses and each user test set (a fixed sample of each) and, where the language
    has one, the UDHR."""
    return list(corpora.test_sets(config, config.eval.max_items).values())


def accuracy(source: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Top-1 accuracy both ways for aligned, L2-normalised embeddings."""
    sim = source @ target.T
    gold = np.arange(len(source))
    s2t = float((sim.argmax(1) == gold).mean())
    t2s = float((sim.argmax(0) == gold).mean())
    return {"src2tgt": s2t, "tgt2src": t2s, "mean": (s2t + t2s) / 2}


def embedder(model, tokenizer, config: LanguageConfig):
    """texts -> embeddings with the eval settings, remembering sentences already encoded (the
    retrieval and mining sets share sentences)."""
    kwargs = dict(batch_size=config.eval.batch_size, max_length=config.eval.max_length, prefix=config.eval.prefix)
    memo: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in memo))
        if new:
            memo.update(zip(new, encode(model, tokenizer, new, **kwargs)))
        return np.stack([memo[t] for t in texts]) if texts else np.zeros((0, model.config.hidden_size), np.float32)

    return embed


def evaluate(model, tokenizer, dataset: ParallelSet, config: LanguageConfig, embed=None) -> dict[str, float]:
    embed = embed or embedder(model, tokenizer, config)
    return accuracy(embed(dataset.source), embed(dataset.target)) | {"n": len(dataset)}


TASK = Task(NAME, "embedding", PRIMARY_METRIC, GREATER_IS_BETTER,
              "Tatoeba-style retrieval both ways on held-out Bible verses and the UDHR",
              datasets=datasets, evaluate=evaluate)
