"""General word lists with weights: what everyday text of a language needs beyond the training corpus.

- 'wordfreq': the `wordfreq` package's frequency lists (42 languages; it silently falls back to
  English for others, so the language is checked first).
- 'hunspell:<debian package>': a hunspell dictionary's word list (no frequencies: uniform weights),
  fetched at run time as a Debian package.
"""

from __future__ import annotations

import re

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.sources.packages import Package, fetch

Weighted = list[tuple[str, float]]


def wordfreq_languages() -> list[str]:
    import wordfreq

    return sorted(wordfreq.available_languages())


def check_wordlist(name: str, lang: str) -> str | None:
    """A problem with using word list `name` for `lang`, or None; cheap, no download."""
    if name == "wordfreq" and lang not in wordfreq_languages():
        return (f"wordfreq has no {lang!r} list (it has {', '.join(wordfreq_languages())}); "
                "use a hunspell dictionary such as 'hunspell:hunspell-" + lang + "'")
    return None


def load(name: str, lang: str, size: int) -> Weighted:
    """Words of `lang` from word list `name` with weights summing to 1: the `size` most frequent where
    the list has frequencies, all of it otherwise (a dictionary is alphabetical: a prefix would be biased)."""
    problem = check_wordlist(name, lang)
    if problem:
        raise PolyglotError(problem)
    if name == "wordfreq":
        words = _wordfreq(lang, size)
    elif name.startswith("hunspell:"):
        words = _hunspell(name.split(":", 1)[1])
    else:
        raise PolyglotError(f"unknown word list {name!r}; expected 'wordfreq' or 'hunspell:<debian package>'")
    total = sum(w for _, w in words) or 1.0
    return [(word, weight / total) for word, weight in words]


def _wordfreq(lang: str, size: int) -> Weighted:
    import wordfreq

    words = wordfreq.top_n_list(lang, size)
    return [(w, wordfreq.word_frequency(w, lang)) for w in words]


_FLAGGED = re.compile(r"^([^/\t ]+)")


def _hunspell(package: str) -> Weighted:
    root = fetch(Package("debian", package))
    dics = sorted(p for p in root.rglob("*.dic") if not p.is_symlink())
    if not dics:
        raise PolyglotError(f"Debian package {package!r} holds no hunspell .dic file (looked in {root})")
    dic = dics[0]
    aff = dic.with_suffix(".aff")
    encoding = "utf-8"
    if aff.is_file():
        m = re.search(r"^SET\s+(\S+)", aff.read_text(encoding="latin-1"), re.M)
        encoding = m.group(1) if m else "latin-1"
    lines = dic.read_text(encoding=encoding, errors="replace").splitlines()[1:]  # first line: the count
    words = []
    for line in lines:
        m = _FLAGGED.match(line.strip())
        if m and not any(ch.isdigit() for ch in m.group(1)):
            words.append(m.group(1))
    return [(w, 1.0) for w in words]
