"""Trimming invariants on tiny in-process tokenizers and models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from polyglot_kd.core.loading import load_encoder

from polyglot_kd.methods.trim import vocab as trimming
from polyglot_kd.core.errors import PolyglotError
from tests.tiny import CORPUS, save_tiny_model

IN_VOCAB = ["the cat sleeps", "o gato dorme no sofá", "paka analala"]


def _trim(tmp_path, kind, texts, top_n):
    src = save_tiny_model(tmp_path / "teacher", kind)
    tok = AutoTokenizer.from_pretrained(src)
    model = load_encoder(src)
    counts = trimming.count_tokens(tok, texts)
    p = counts / counts.sum()
    sel = trimming.select_tokens(p, p, counts, "top_n", top_n=top_n, always=trimming.special_ids(tok),
                                 fallback=trimming.fallback_ids(tok, CORPUS))
    teacher_rows = model.get_input_embeddings().weight.detach().clone()
    trimming.trim_model(model, sel.kept, tok)
    out = tmp_path / "trimmed"
    model.save_pretrained(out)
    trimming.trim_tokenizer(tok, sel.kept, out, source_dir=src)
    return tok, AutoTokenizer.from_pretrained(out), load_encoder(out), teacher_rows, sel


@pytest.mark.parametrize("kind", ["unigram", "wordpiece"])
def test_kept_rows_equal_teacher_rows(tmp_path, kind):
    old_tok, new_tok, new_model, teacher_rows, sel = _trim(tmp_path, kind, IN_VOCAB, top_n=10)
    assert new_model.config.vocab_size == len(sel.kept) == len(new_tok)
    assert torch.equal(new_model.get_input_embeddings().weight, teacher_rows[torch.as_tensor(sel.kept)])
    # every kept token keeps its piece: new id i <-> old id kept[i]
    old_vocab = {i: p for p, i in old_tok.get_vocab().items()}
    new_vocab = {i: p for p, i in new_tok.get_vocab().items()}
    assert [new_vocab[i] for i in range(len(sel.kept))] == [old_vocab[int(o)] for o in sel.kept]


@pytest.mark.parametrize("kind", ["unigram", "wordpiece"])
def test_in_vocabulary_text_segments_identically(tmp_path, kind):
    old_tok, new_tok, *_ = _trim(tmp_path, kind, IN_VOCAB, top_n=1000)  # every counted piece kept
    for text in IN_VOCAB:
        assert new_tok.tokenize(text) == old_tok.tokenize(text)


@pytest.mark.parametrize("kind", ["unigram", "wordpiece"])
def test_dropped_pieces_fall_back_to_characters_not_unk(tmp_path, kind):
    old_tok, new_tok, *_ = _trim(tmp_path, kind, IN_VOCAB, top_n=1000)
    text = "mbwa anakimbia bustanini"  # its whole-word pieces were dropped
    assert new_tok.tokenize(text) != old_tok.tokenize(text)
    assert new_tok.unk_token_id not in new_tok(text, add_special_tokens=False)["input_ids"]
    assert new_tok.decode(new_tok(text)["input_ids"], skip_special_tokens=True).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize("kind", ["unigram", "wordpiece"])
def test_special_tokens_survive_with_their_roles(tmp_path, kind):
    old_tok, new_tok, new_model, _, _ = _trim(tmp_path, kind, IN_VOCAB, top_n=5)
    for name in ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"):
        assert getattr(new_tok, name) == getattr(old_tok, name)
        assert new_tok.convert_ids_to_tokens(getattr(new_tok, name + "_id")) == getattr(old_tok, name)
    ids = new_tok("the cat")["input_ids"]
    assert ids[0] == new_tok.cls_token_id and ids[-1] == new_tok.sep_token_id
    assert new_model.config.pad_token_id == new_tok.pad_token_id


def test_trimmed_model_embeds_in_vocabulary_text_like_the_teacher(tmp_path):
    src = save_tiny_model(tmp_path / "teacher")
    old_tok, new_tok, new_model, *_ = _trim(tmp_path, "unigram", IN_VOCAB, top_n=1000)
    teacher = load_encoder(src)
    for text in IN_VOCAB:
        a = teacher(**old_tok(text, return_tensors="pt")).last_hidden_state
        b = new_model(**new_tok(text, return_tensors="pt")).last_hidden_state
        assert torch.allclose(a, b, atol=1e-5)


def test_rules():
    p_src = np.array([0.5, 0.3, 0.0, 0.1, 0.1])
    p_tgt = np.array([0.0, 0.0, 0.6, 0.0, 0.4])
    counts = np.array([5, 1, 7, 0, 3])
    top = trimming.select_tokens(p_src, p_tgt, counts, "top_n", top_n=2, always={0})
    assert top.kept.tolist() == [0, 2]  # 0.6 and 0.5 are the top two; 0 is also special
    thr = trimming.select_tokens(p_src, p_tgt, counts, "threshold", threshold=0.35)
    assert thr.kept.tolist() == [0, 2, 4]
    mf = trimming.select_tokens(p_src, p_tgt, counts, "min_frequency", min_frequency=3, fallback={1})
    assert mf.kept.tolist() == [0, 1, 2, 4] and mf.fallback == 1


def test_missing_special_token_is_refused(tmp_path):
    src = save_tiny_model(tmp_path / "teacher")
    tok = AutoTokenizer.from_pretrained(src)
    with pytest.raises(PolyglotError, match="special"):
        trimming.trim_tokenizer(tok, np.array([5, 6, 7]), tmp_path / "out")


def test_count_tokens_matches_python_count(tmp_path):
    tok = AutoTokenizer.from_pretrained(save_tiny_model(tmp_path / "t"))
    counts = trimming.count_tokens(tok, CORPUS[:14], batch_size=3)
    expected = np.zeros(len(tok), dtype=int)
    for text in CORPUS[:14]:
        for i in tok(text, add_special_tokens=False)["input_ids"]:
            expected[i] += 1
    assert (counts == expected).all()


def test_decomposed_input_is_composed_before_the_kept_pieces(tmp_path):
    """A teacher whose normalizer does not compose (like XLM-R's): text written with combining marks
    must tokenise like its composed form after trimming, not fall to <unk>."""
    import unicodedata

    from tokenizers import normalizers

    src = save_tiny_model(tmp_path / "teacher", "unigram")
    tok = AutoTokenizer.from_pretrained(src)
    tok.backend_tokenizer.normalizer = normalizers.Sequence([])
    composed = ["o gato dorme no sofá", "um pássaro canta de manhã", "der Hund läuft im Garten"]
    counts = trimming.count_tokens(tok, composed)
    kept = np.flatnonzero(counts > 0)
    kept = np.union1d(kept, sorted(trimming.special_ids(tok)))
    trimming.trim_tokenizer(tok, kept, tmp_path / "trimmed")
    new_tok = AutoTokenizer.from_pretrained(tmp_path / "trimmed")
    for text in composed:
        decomposed = unicodedata.normalize("NFD", text)
        assert decomposed != text
        ids = new_tok(decomposed, add_special_tokens=False)["input_ids"]
        assert ids == new_tok(text, add_special_tokens=False)["input_ids"]
        assert new_tok.unk_token_id not in ids


def test_a_dictionary_without_frequencies_gets_every_capitalised_form(tmp_path):
    """A word list with equal weights is alphabetical: its first fifth is no frequency head, so a word
    late in the alphabet must get its capitalised form too (a name, a title, a sentence start)."""
    tok = AutoTokenizer.from_pretrained(save_tiny_model(tmp_path / "t"))
    words = ["analala", "dorme", "manhã", "paka", "gato"]
    capital_g = tok.convert_tokens_to_ids("G")  # 'Gato' -> '▁', 'G', 'a', 't', 'o'
    assert capital_g != tok.unk_token_id
    assert capital_g not in tok(" ".join(words), add_special_tokens=False)["input_ids"]

    dictionary = trimming.weighted_token_distribution(tok, [(w, 0.2) for w in words])
    assert dictionary[capital_g] > 0
    by_frequency = trimming.weighted_token_distribution(tok, [(w, 0.5 - 0.1 * i) for i, w in enumerate(words)])
    assert by_frequency[capital_g] == 0  # 'gato' is not in the most frequent fifth
    assert np.isclose(dictionary.sum(), 1.0) and np.isclose(by_frequency.sum(), 1.0)
