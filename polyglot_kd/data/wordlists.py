"""General word lists with weights: what everyday text of a language needs beyond the training corpus.

- 'wordfreq': the `wordfreq` package's frequency lists (42 languages; it silently falls back to
  English for others, so the language is checked first); 'wordfreq:<code>' reads another code's list
  (Tagalog text with wordfreq's Filipino list: 'wordfreq:fil').
- 'hunspell:<debian package>': a hunspell dictionary's word list (no frequencies: uniform weights),
  fetched at run time as a Debian package.
"""

from __future__ import annotations

import math
import re

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.sources.packages import Package, fetch

Weighted = list[tuple[str, float]]


def wordfreq_languages() -> list[str]:
    import wordfreq

    return sorted(wordfreq.available_languages())


def is_wordlist_name(name: str) -> bool:
    return name == "wordfreq" or name.startswith(("wordfreq:", "hunspell:"))


def _wordfreq_code(name: str, lang: str) -> str | None:
    """The wordfreq language a 'wordfreq[:<code>]' name reads for `lang`; None for other lists."""
    if name == "wordfreq":
        return lang
    return name.split(":", 1)[1] if name.startswith("wordfreq:") else None


def check_wordlist(name: str, lang: str) -> str | None:
    """A problem with using word list `name` for `lang`, or None; cheap, no download."""
    code = _wordfreq_code(name, lang)
    if code is not None and code not in wordfreq_languages():
        return (f"wordfreq has no {code!r} list (it has {', '.join(wordfreq_languages())}); "
                "use 'wordfreq:<code>' for a related code or a hunspell dictionary such as "
                "'hunspell:hunspell-" + lang + "'")
    return None


def load(name: str, lang: str, size: int) -> Weighted:
    """Words of `lang` from word list `name` with weights summing to 1: the `size` most frequent where
    the list has frequencies, all of it otherwise (a dictionary is alphabetical: a prefix would be biased)."""
    problem = check_wordlist(name, lang)
    if problem:
        raise PolyglotError(problem)
    code = _wordfreq_code(name, lang)
    if code is not None:
        words = _wordfreq(code, size)
    elif name.startswith("hunspell:"):
        words = _hunspell(name.split(":", 1)[1])
    else:
        raise PolyglotError(f"unknown word list {name!r}; expected 'wordfreq', 'wordfreq:<code>' or "
                            "'hunspell:<debian package>'")
    total = sum(w for _, w in words) or 1.0
    return [(word, weight / total) for word, weight in words]


def _wordfreq(lang: str, size: int) -> Weighted:
    import wordfreq

    words = wordfreq.top_n_list(lang, size)
    try:
        return [(w, wordfreq.word_frequency(w, lang)) for w in words]
    except ModuleNotFoundError:
        # zh, ja and ko need a word segmenter (jieba, MeCab) to look a word up; the list's own
        # frequencies, rounded as word_frequency rounds them, need none.
        table = wordfreq.get_frequency_dict(lang)
        return [(w, _three_significant(table.get(w, 0.0))) for w in words]


def _three_significant(freq: float) -> float:
    return round(freq, math.floor(-math.log10(freq)) + 3) if freq > 0 else 0.0


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
