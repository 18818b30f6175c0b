"""Trimmed tokenizers keep every character of their scripts, digits, punctuation, symbols and emoji:
<unk> only where the teacher has it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from polyglot_kd.core.loading import load_tokenizer
from polyglot_kd.methods.trim import characters
from polyglot_kd.methods.trim import vocab as trimming
from polyglot_kd.sources.teacher import resolve_teacher

SYMBOL_RICH = [
    "Desconto de 50% hoje só na loja!", "https://exemplo.com/a_b?x=1&y=2#topo", "R$ 12,50 + 3 € / £ ¥ = ?",
    "“aspas” — travessão # @ < > { } \\ | ~ ^ `", "Escreva para ana.silva+loja@exemplo.com.br",
    "<div class=\"preço\">R$ 1.299,00</div>", "Parabéns!!! 🎉😀👍 ❤️ ✔ ★", "Temperatura: 25 °C ± 2; 3×4 ≠ 11 ≤ 12 → ok",
    "Em 2024, 7,5% dos 1.000.000 usuários…", "Ação: ñandú, Łódź, Øresund, Ærø, façade, naïve",
]


def test_character_selection_by_script_symbol_and_number():
    vocab = {p: i for i, p in enumerate(["<unk>", "▁a", "b", "▁ж", "д", "€", "▁%", "://", "▁...", "=1", "▁20", "24",
                                         "▁2018", "▁cat", "😀", "中"])}
    scores = {i: -float(i) for i in vocab.values()}
    ids = characters.character_ids(vocab, "Unigram", ("LATIN",), scores=scores, number_pieces=2)
    pieces = {v: k for k, v in vocab.items()}
    assert {pieces[i] for i in ids.scripts} == {"▁a", "b"}  # Cyrillic and CJK are other scripts
    assert {pieces[i] for i in ids.symbols} == {"€", "▁%", "://", "▁...", "😀"}  # '=1' mixes a digit in
    assert {pieces[i] for i in ids.numbers} == {"▁20", "24"}  # the two most probable
    wordpiece = characters.character_ids({"##é": 0, "x": 1, "##7": 2, "[UNK]": 3}, "WordPiece", ("LATIN",))
    assert wordpiece.scripts == {0, 1} and wordpiece.numbers == {2}
    assert characters.text_scripts(["Olá, мир 1"]) == ("CYRILLIC", "LATIN")


@pytest.fixture(scope="module")
def teacher_and_trimmed(tmp_path_factory):
    """The real teacher tokenizer and a trimmed one keeping only the rule-free characters: the
    property must hold whatever the rule kept on top."""
    teacher = load_tokenizer(resolve_teacher("e5-small"))
    chars = characters.character_ids(teacher.backend_tokenizer.get_vocab(), "Unigram", ("LATIN",),
                                     scores=characters.unigram_scores(teacher))
    kept = np.array(sorted(chars.all() | trimming.special_ids(teacher) | {teacher.convert_tokens_to_ids("▁")}))
    out = tmp_path_factory.mktemp("trimmed")
    trimming.trim_tokenizer(teacher, kept, out)
    return teacher, load_tokenizer(out)


def _unk_spans(tokenizer, text: str) -> list[tuple[int, int]]:
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return [span for i, span in zip(enc["input_ids"], enc["offset_mapping"]) if i == tokenizer.unk_token_id]


def _alphabet(teacher) -> list[str]:
    singles = {p.lstrip("▁") for p in teacher.backend_tokenizer.get_vocab() if len(p.lstrip("▁")) == 1}
    latin = [c for c in singles if characters.script_of(c) == "LATIN"]
    symbols = [c for c in singles if characters.is_symbol(c)]
    absent = ["\u0378", "\U0001FAFF", "\u2FFF"]  # unassigned or not in the teacher: <unk> on both sides
    return sorted(latin) + sorted(symbols) + absent + [" "] * 20


@pytest.mark.real
def test_trimmed_tokenizer_has_unk_exactly_where_the_teacher_has(teacher_and_trimmed):
    teacher, trimmed = teacher_and_trimmed
    alphabet = _alphabet(teacher)
    rng = random.Random(0)
    with_unk = 0
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        spans = _unk_spans(teacher, text)
        assert _unk_spans(trimmed, text) == spans, text
        with_unk += bool(spans)
    assert with_unk > 50  # the generator does reach characters the teacher lacks


@pytest.mark.real
def test_symbol_rich_text_has_as_many_unk_as_with_the_teacher(teacher_and_trimmed):
    teacher, trimmed = teacher_and_trimmed
    for text in SYMBOL_RICH:
        assert len(_unk_spans(trimmed, text)) == len(_unk_spans(teacher, text)), text
    assert trimmed.tokenize("2024") == teacher.tokenize("2024")
