"""Readers of word-tagged text: Brown `word/tag` files, `word/TAG` lines (aksara) and CoNLL-U.

Every reader names the file, the line and the reason when a file is malformed or empty, and maps
tags with a caller-given function, reporting a tag it does not know with its line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError


@dataclass(frozen=True)
class TaggedSentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    where: str = ""  # file:line of the sentence's first token, for messages


def format_error(path: Path | str, line: int | None, reason: str) -> PolyglotError:
    where = f"{path}:{line}" if line else str(path)
    return PolyglotError(f"malformed data file {where}: {reason}")


def _map(tag: str, mapping: Callable[[str], str | None], path, line: int) -> str:
    mapped = mapping(tag)
    if mapped is None:
        raise format_error(path, line, f"unknown tag {tag!r}")
    return mapped


def _read_lines(path: Path) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolyglotError(f"data file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise format_error(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise format_error(path, None, "the file is empty")
    return text.splitlines()


def _split_token(token: str, path, line: int) -> tuple[str, str]:
    word, sep, tag = token.rpartition("/")  # words may hold slashes themselves: 1/2/cd
    if not sep or not word or not tag:
        raise format_error(path, line, f"token {token!r} is not word/tag")
    return word, tag


def read_slash_tagged(path: Path, mapping: Callable[[str], str | None]) -> list[TaggedSentence]:
    """Sentences of whitespace-separated `word/tag` tokens, one sentence a line; blank lines (Brown's
    paragraph breaks) are skipped."""
    sentences = []
    for number, line in enumerate(_read_lines(path), 1):
        tokens = line.split()
        if tokens:
            pairs = [_split_token(token, path, number) for token in tokens]
            tags = tuple(_map(tag, mapping, path, number) for _, tag in pairs)
            sentences.append(TaggedSentence(tuple(w for w, _ in pairs), tags, f"{path}:{number}"))
    if not sentences:
        raise format_error(path, None, "no tagged sentence found")
    return sentences


@dataclass(frozen=True)
class ConlluToken:
    id: int
    form: str
    upos: str
    misc: str
    line: int


def read_conllu(path: Path) -> list[list[ConlluToken]]:
    """Sentences of syntactic words (multiword-token ranges and empty nodes skipped)."""
    sentences, current = [], []
    for number, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise format_error(path, number, f"expected 10 tab-separated columns, found {len(cols)}")
        if "-" in cols[0] or "." in cols[0]:
            continue
        if not cols[0].isdigit():
            raise format_error(path, number, f"token id {cols[0]!r} is not a number")
        if not cols[1] or not cols[3]:
            raise format_error(path, number, "empty FORM or UPOS column")
        current.append(ConlluToken(int(cols[0]), cols[1], cols[3], cols[9], number))
    if current:
        sentences.append(current)
    if not sentences:
        raise format_error(path, None, "no sentence found")
    return sentences


def conllu_sentences(path: Path, mapping: Callable[[str], str | None], *, join_pieces: bool = False,
                     punct: Iterable[str] = ("PUNCT",)) -> list[TaggedSentence]:
    """Word/tag sentences from CoNLL-U.

    join_pieces: glue pieces marked `SpaceAfter=No` into one word, as the Turkish treebank splits
    words into inflectional groups (Açık la nma yan -> Açıklanmayan). The word takes the last piece's
    tag (the last group decides a Turkish word's category); punctuation is never glued, so
    "imkansız." stays two words."""
    punct = set(punct)
    out = []
    for sentence in read_conllu(path):
        words, tags, piece = [], [], ""
        for i, tok in enumerate(sentence):
            tag = _map(tok.upos, mapping, path, tok.line)
            if not join_pieces:
                words.append(tok.form)
                tags.append(tag)
                continue
            if tok.upos in punct:  # (a word before it was closed when its last piece was read)
                words.append(tok.form)
                tags.append(tag)
                continue
            piece += tok.form
            nxt = sentence[i + 1] if i + 1 < len(sentence) else None
            if "SpaceAfter=No" not in tok.misc.split("|") or nxt is None or nxt.upos in punct:
                words.append(piece)
                tags.append(tag)
                piece = ""
        out.append(TaggedSentence(tuple(words), tuple(tags), f"{path}:{sentence[0].line}"))
    return out
