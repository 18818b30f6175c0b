"""Tatoeba-style sentence retrieval: for each sentence, is its translation the nearest neighbour?

Accuracy in both directions (source->target, target->source) by cosine similarity of mean-pooled
embeddings; the primary metric is their mean, greater is better.
"""

from __future__ import annotations

import numpy as np

from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import bible, udhr
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.embed import encode

NAME = "retrieval"
PRIMARY_METRIC = "mean"
GREATER_IS_BETTER = True


def datasets(config: LanguageConfig) -> list[ParallelSet]:
    """The held-out Gospel verses (a fixed sample) and, where the language has one, the UDHR."""
    sets = [bible.parallel(config.corpus.source_bible, config.corpus.bible, "test", config.eval.max_items)]
    if config.corpus.udhr:
        sets.append(udhr.parallel(config.corpus.source_udhr, config.corpus.udhr))
    return sets


def accuracy(source: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Top-1 accuracy both ways for aligned, L2-normalised embeddings."""
    sim = source @ target.T
    gold = np.arange(len(source))
    s2t = float((sim.argmax(1) == gold).mean())
    t2s = float((sim.argmax(0) == gold).mean())
    return {"src2tgt": s2t, "tgt2src": t2s, "mean": (s2t + t2s) / 2}


def evaluate(model, tokenizer, dataset: ParallelSet, config: LanguageConfig) -> dict[str, float]:
    kwargs = dict(batch_size=config.eval.batch_size, max_length=config.eval.max_length, prefix=config.eval.prefix)
    src = encode(model, tokenizer, dataset.source, **kwargs)
    tgt = encode(model, tokenizer, dataset.target, **kwargs)
    return accuracy(src, tgt) | {"n": len(dataset)}
