"""Readers of the user's text files: aligned plain text, TSV, TMX and monolingual text.

Each reader streams its file(s) once per use, line by line, and yields (source, target) rows with
whitespace normalised as the Bible and UDHR readers do (a monolingual row has None on its missing
side); rows blank on both sides are skipped. The same pass, run to the end, finds every problem with a
file and line number (`problems`) before any work starts; `rows` stops at the first.
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError

MAX_LISTED = 5  # problems of one kind listed per file; the rest are counted
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

Row = tuple[str | None, str | None]


def normalise(text: str) -> str:
    """Whitespace runs to one space, ends stripped (as the Bible and UDHR readers do); a BOM dropped."""
    return " ".join(text.replace("\ufeff", "").split())


class Problems:
    """Problems found while reading, a few listed per kind and the rest counted; `strict` raises the first."""

    def __init__(self, where: str, strict: bool):
        self.where, self.strict = where, strict
        self.listed: list[str] = []
        self.counts: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        if self.strict:
            raise PolyglotError(f"{self.where}: {message}")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= MAX_LISTED:
            self.listed.append(f"{self.where}: {message}")

    def all(self) -> list[str]:
        more = [f"{self.where}: {n - MAX_LISTED} more like the above ({kind})"
                for kind, n in self.counts.items() if n > MAX_LISTED]
        return self.listed + more


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def lines(path: Path, found: Problems) -> Iterator[tuple[int, str]]:
    """(line number, normalised text) of a UTF-8 text file; a line that is not UTF-8 is a problem (and '')."""
    with _open(path) as f:
        for number, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                found.add("not UTF-8", f"{path}, line {number}: not UTF-8 (byte {raw[exc.start]:#04x} at byte "
                                       f"{exc.start + 1} of the line); expected UTF-8 text")
                text = ""
            yield number, normalise(text)


def missing_files(paths: list[str], found: Problems) -> bool:
    absent = [p for p in paths if not Path(p).is_file()]
    for p in absent:
        found.add("missing", f"file {p} does not exist" + (" (it is a folder)" if Path(p).is_dir() else ""))
    return bool(absent)


@dataclass(frozen=True)
class Reader:
    """One kind of source: `scan(source, languages, found)` yields its rows and reports into `found`."""

    kind: str
    scan: object

    def rows(self, source, languages: tuple[str, str], where: str) -> Iterator[Row]:
        yield from self.scan(source, languages, Problems(where, strict=True))

    def problems(self, source, languages: tuple[str, str], where: str) -> list[str]:
        found = Problems(where, strict=False)
        rows = sum(1 for _ in self.scan(source, languages, found))
        if not rows and not found.listed:
            found.add("empty", f"no sentences in {source.path or ', '.join(source.paths)}; expected at least one")
        return found.all()


def _aligned(source, languages, found: Problems) -> Iterator[Row]:
    source_file, target_file = (Path(p) for p in source.paths)
    if missing_files(source.paths, found):
        return
    left, right = lines(source_file, found), lines(target_file, found)
    counts = [0, 0]
    while True:
        a, b = next(left, None), next(right, None)
        counts[0] += a is not None
        counts[1] += b is not None
        if a is None or b is None:
            break
        (number, s), (_, t) = a, b
        if bool(s) != bool(t):
            empty, full = (source_file, target_file) if not s else (target_file, source_file)
            found.add("one side empty", f"line {number} is empty in {empty} but not in {full}; expected a "
                                        "sentence on both sides (or a blank line on both)")
        elif s:
            yield s, t
    if a is not None or b is not None:  # one file is longer: count the rest of it
        rest = left if a is not None else right
        counts[0 if a is not None else 1] += sum(1 for _ in rest)
        found.add("line counts", f"{source_file} has {counts[0]:,} lines and {target_file} has {counts[1]:,}; "
                                 "expected the same number (one sentence per line, aligned)")


def _tsv(source, languages, found: Problems) -> Iterator[Row]:
    path = Path(source.path)
    if missing_files([source.path], found):
        return
    with _open(path) as f:
        for number, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                found.add("not UTF-8", f"{path}, line {number}: not UTF-8 (byte {raw[exc.start]:#04x} at byte "
                                       f"{exc.start + 1} of the line); expected UTF-8 text")
                continue
            if not text.strip():
                continue
            fields = text.split("\t")
            if len(fields) != 2:
                found.add("fields", f"{path}, line {number}: {len(fields)} tab-separated field(s); expected 2 "
                                    "(source<TAB>target)")
                continue
            s, t = normalise(fields[0]), normalise(fields[1])
            if bool(s) != bool(t):
                found.add("one side empty", f"{path}, line {number}: the {'source' if not s else 'target'} "
                                            "field is empty; expected a sentence on both sides")
            elif s:
                yield s, t


def _primary(code: str) -> str:
    return code.replace("_", "-").split("-")[0].lower()


def _tmx(source, languages, found: Problems) -> Iterator[Row]:
    path = Path(source.path)
    if missing_files([source.path], found):
        return
    want = [_primary(code) for code in languages]
    seen: set[str] = set()
    try:
        with _open(path) as f:
            for _, element in ET.iterparse(f):
                if element.tag != "tu":
                    continue
                segments = {}
                for tuv in element.iter("tuv"):
                    lang = _primary(tuv.get(XML_LANG) or tuv.get("lang") or "")
                    seen.add(lang)
                    seg = tuv.find("seg")
                    if seg is not None:
                        segments[lang] = normalise("".join(seg.itertext()))
                element.clear()  # a TMX can be large: keep no finished unit
                s, t = (segments.get(w, "") for w in want)
                if s and t:
                    yield s, t
    except ET.ParseError as exc:
        line, column = exc.position
        found.add("xml", f"{path}, line {line}, column {column}: not valid TMX ({exc.msg}); expected UTF-8 XML "
                         "with <tu><tuv xml:lang=...><seg>")
        return
    if not set(want) <= seen:
        found.add("languages", f"{path} has no units in {' and '.join(w for w in want if w not in seen)}; "
                               f"its languages: {sorted(seen - {''}) or 'none'}")


def _monolingual(source, languages, found: Problems) -> Iterator[Row]:
    if missing_files([source.path], found):
        return
    for _, text in lines(Path(source.path), found):
        if text:
            yield (text, None) if source.side == "source" else (None, text)


ALIGNED = Reader("aligned", _aligned)
TSV = Reader("tsv", _tsv)
TMX = Reader("tmx", _tmx)
MONOLINGUAL = Reader("monolingual", _monolingual)
