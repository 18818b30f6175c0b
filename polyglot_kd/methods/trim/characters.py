"""The teacher tokens a trimmed model keeps whatever the rule: characters, so that no text the build
covers turns into <unk> where the teacher had none.

- every single-character piece for a letter or mark of the scripts the training texts are written in
  (all of Latin for Portuguese, not only the letters the Bible happens to use);
- every single-character piece for a digit, punctuation mark, symbol or currency sign in the common
  blocks (below U+3000: Latin punctuation, currency, arrows, maths, dingbats) and the emoji blocks,
  and every piece made only of such marks without digits (`://`, `...`, `").`): text from shops,
  software, the web and chat is full of them;
- the teacher's most frequent pieces made of digits alone (`▁20`, `24`, `▁2018`), so numbers segment
  as the teacher segments them rather than digit by digit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

COMMON_BLOCKS_END = 0x3000
EMOJI_BLOCKS = (0x1F000, 0x1FAFF)
# joiners and selectors inside emoji sequences (ZWJ, variation selectors, the keycap mark)
EMOJI_COMPONENTS = frozenset("\u200d\u20e3") | frozenset(chr(c) for c in range(0xFE00, 0xFE10))
NUMBER_PIECE = re.compile(r"[0-9]+")
NUMBER_PIECES = 400  # the most probable all-digit pieces kept (XLM-R has about 1,300)


@dataclass
class CharacterIds:
    """Teacher ids per reason for keeping them (a token can have more than one)."""

    scripts: set[int]
    symbols: set[int]
    numbers: set[int]
    script_names: tuple[str, ...]

    def all(self) -> set[int]:
        return self.scripts | self.symbols | self.numbers

    def counts(self) -> dict:
        return {"scripts": len(self.scripts), "symbols": len(self.symbols), "numbers": len(self.numbers),
                "script_names": list(self.script_names)}


def script_of(char: str) -> str:
    """'LATIN', 'CYRILLIC', 'DEVANAGARI', ... from the character's Unicode name ('' if unnamed)."""
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else ""


def is_symbol(char: str) -> bool:
    """A digit, punctuation mark or symbol (categories N, P, S) of the common or emoji blocks, or a
    character that emoji sequences are built with."""
    if char in EMOJI_COMPONENTS:
        return True
    code = ord(char)
    in_blocks = code < COMMON_BLOCKS_END or EMOJI_BLOCKS[0] <= code <= EMOJI_BLOCKS[1]
    return in_blocks and unicodedata.category(char)[0] in "NPS"


def text_scripts(texts: Iterable[str]) -> tuple[str, ...]:
    """The scripts of the letters in `texts`."""
    letters = {c for t in texts for c in t if unicodedata.category(c)[0] == "L"}
    return tuple(sorted({s for c in letters if (s := script_of(c))}))


def character_ids(vocab: dict[str, int], kind: str, scripts: Iterable[str], scores: dict[int, float] | None = None,
                  number_pieces: int = NUMBER_PIECES) -> CharacterIds:
    """The ids of `vocab` (piece -> id) to keep for `scripts`; `kind` is 'Unigram' (pieces `c`, `▁c`)
    or 'WordPiece' (`c`, `##c`). Number pieces are ranked by `scores` (id -> unigram log-probability),
    else by id (WordPiece vocabularies are roughly in frequency order)."""
    marker = "▁" if kind == "Unigram" else "##"
    scripts = tuple(scripts)
    keep_scripts, symbols, numbers = set(), set(), set()
    for piece, idx in vocab.items():
        bare = piece[len(marker):] if piece.startswith(marker) else piece
        if len(bare) == 1:
            category = unicodedata.category(bare)[0]
            if category in "LM" and script_of(bare) in scripts:
                keep_scripts.add(idx)
            elif is_symbol(bare):
                symbols.add(idx)
        elif bare and all(is_symbol(c) and not c.isdigit() for c in bare):
            symbols.add(idx)
        if bare and NUMBER_PIECE.fullmatch(bare):
            numbers.add(idx)
    rank = (lambda i: -scores.get(i, float("-inf"))) if scores else (lambda i: i)
    numbers = set(sorted(numbers, key=rank)[:number_pieces])
    return CharacterIds(keep_scripts, symbols, numbers, scripts)


def unigram_scores(tokenizer) -> dict[int, float] | None:
    """id -> log-probability of a Unigram tokenizer's pieces; None for other models."""
    import json

    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    if model.get("type") != "Unigram":
        return None
    return {i: score for i, (_, score) in enumerate(model["vocab"])}
