"""The held-out text every stage reports on: the test Gospels and, where the language has one, the UDHR."""

from __future__ import annotations

from polyglot_kd.data import corpora
from polyglot_kd.data.bible import ParallelSet


def held_out_sets(cfg) -> dict[str, ParallelSet]:
    """{'bible-test': ..., 'udhr': ..., <each user test source>: ...} for a LanguageConfig, whole (source side
    English, target side its language)."""
    return corpora.test_sets(cfg)
