"""The held-out text every stage reports on: the test Gospels and, where the language has one, the UDHR."""

from __future__ import annotations

from polyglot_kd.data import bible, udhr
from polyglot_kd.data.bible import ParallelSet


def held_out_sets(cfg) -> dict[str, ParallelSet]:
    """{'bible-test': ..., 'udhr': ...} for a LanguageConfig (source side English, target side its language)."""
    sets = {"bible-test": bible.parallel(cfg.corpus.source_bible, cfg.corpus.bible, "test")}
    if cfg.corpus.udhr:
        sets["udhr"] = udhr.parallel(cfg.corpus.source_udhr, cfg.corpus.udhr)
    return sets
