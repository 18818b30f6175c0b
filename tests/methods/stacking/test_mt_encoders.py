"""MT encoders: Hugging Face Marian / M2M100 / NLLB models built tiny in-process, and the embedded pair."""

from __future__ import annotations

import json

import pytest
import sentencepiece
import torch
from transformers import (
    M2M100Config,
    M2M100ForConditionalGeneration,
    M2M100Tokenizer,
    MarianConfig,
    MarianMTModel,
    MarianTokenizer,
    NllbTokenizer,
)

from polyglot_kd.methods.stacking import mt_encoders
from polyglot_kd.core.errors import PolyglotError
from tests.marian_tiny import tiny_spm

M2M_SIZES = dict(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                 encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64)


def _vocab(spm_file, specials):
    sp = sentencepiece.SentencePieceProcessor(model_file=str(spm_file))
    vocab = {s: i for i, s in enumerate(specials)}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    return vocab


def save_tiny_marian(directory, vocab_delta: int = 0):
    """An OPUS-MT-style pt->en model: MarianMTModel + MarianTokenizer (source.spm, target.spm, vocab.json)."""
    directory.mkdir(parents=True)
    spm = tiny_spm(directory / "source.spm")
    (directory / "target.spm").write_bytes(spm.read_bytes())
    vocab = _vocab(spm, ["</s>", "<unk>"]) | {"<pad>": None}
    vocab["<pad>"] = len(vocab) - 1
    (directory / "vocab.json").write_text(json.dumps(vocab))
    tok = MarianTokenizer(str(directory / "source.spm"), str(directory / "target.spm"), str(directory / "vocab.json"),
                          source_lang="pt", target_lang="en")
    rows = len(tok) + vocab_delta
    pad = min(tok.pad_token_id, rows - 1)  # the model of another vocabulary has its own padding id
    config = MarianConfig(vocab_size=rows, pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=tok.eos_token_id,
                          **M2M_SIZES)
    MarianMTModel(config).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def save_tiny_m2m100(directory, nllb: bool = False):
    directory.mkdir(parents=True)
    spm = tiny_spm(directory / "sentencepiece.bpe.model", marian=False)
    if nllb:
        tok = NllbTokenizer(str(spm), src_lang="eng_Latn")
    else:
        (directory / "vocab.json").write_text(json.dumps(_vocab(spm, ["<s>", "<pad>", "</s>", "<unk>"])))
        tok = M2M100Tokenizer(str(directory / "vocab.json"), str(spm), src_lang="en")
    config = M2M100Config(vocab_size=mt_encoders.tokenizer_size(tok), pad_token_id=tok.pad_token_id, **M2M_SIZES)
    M2M100ForConditionalGeneration(config).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def test_hf_marian_encoder(tmp_path):
    mt = mt_encoders.load_mt_encoder(str(save_tiny_marian(tmp_path / "opus-mt-pt-en")), "pt")
    assert (mt.kind, mt.width, mt.languages) == ("marian", 16, ("pt",))
    batch = mt.tokenize(["o gato dorme", "o cão corre no jardim"], "pt")
    hidden = mt.hidden_states(**batch)
    assert hidden.shape == (2, batch["input_ids"].shape[1], 16)
    assert not any(p.requires_grad for p in mt.encoder.parameters())  # frozen
    with pytest.raises(PolyglotError, match="does not read 'sw'; it reads: pt"):
        mt.tokenize(["x"], "sw")
    saved = mt_encoders.load_saved(mt.save(tmp_path / "copy"))
    torch.testing.assert_close(saved.hidden_states(**batch), hidden)


@pytest.mark.parametrize("nllb", [False, True])
def test_multilingual_encoders_mark_the_language(tmp_path, nllb):
    mt = mt_encoders.load_mt_encoder(str(save_tiny_m2m100(tmp_path / "m", nllb=nllb)))
    assert mt.kind == ("nllb" if nllb else "m2m100")
    assert {"en", "pt", "sw"} <= set(mt.languages)
    pt, de = mt.tokenize(["o gato dorme"], "pt"), mt.tokenize(["o gato dorme"], "de")
    code = "por_Latn" if nllb else "__pt__"
    assert mt.tokenizer.convert_ids_to_tokens(pt["input_ids"][0, 0].item()) == code
    assert pt["input_ids"][0, 1:].tolist() == de["input_ids"][0, 1:].tolist()  # only the language token differs
    assert not torch.equal(mt.hidden_states(**pt), mt.hidden_states(**de))
    with pytest.raises(PolyglotError, match="does not read 'xx'"):
        mt.tokenize(["x"], "xx")


def test_tokenizer_of_another_model_is_refused(tmp_path):
    with pytest.raises(PolyglotError, match="do not belong together"):
        mt_encoders.load_mt_encoder(str(save_tiny_marian(tmp_path / "m", vocab_delta=-5)))


def test_unsupported_and_missing_models(tmp_path):
    from tests.tiny import save_tiny_model

    with pytest.raises(PolyglotError, match="supported: Marian"):
        mt_encoders.load_mt_encoder(str(save_tiny_model(tmp_path / "bert")))
    with pytest.raises(PolyglotError, match="cannot load the MT model"):
        mt_encoders.load_mt_encoder(str(tmp_path / "nowhere"))


def test_spec_checks_without_loading():
    assert mt_encoders.spec_problems("embedded", "pt") == []
    assert mt_encoders.spec_problems("embedded:en-pt", "en") == []
    assert "use embedded:pt-en" in mt_encoders.spec_problems("embedded:en-pt", "pt")[0]
    assert "NLLB or M2M100" in mt_encoders.spec_problems("embedded", "sw")[0]
    assert "known: en-pt, pt-en" in mt_encoders.spec_problems("embedded:pt-fr", "pt")[0]
    assert "neither" in mt_encoders.spec_problems("not a spec!", "pt")[0]
    assert mt_encoders.spec_problems("facebook/nllb-200-distilled-600M", "sw") == []


@pytest.mark.real
def test_embedded_pair_reads_its_languages():
    pt = mt_encoders.load_mt_encoder("embedded", "pt")
    assert (pt.spec, pt.languages, pt.width) == ("embedded:pt-en", ("pt",), 256)
    assert mt_encoders.load_mt_encoder("embedded:en-pt").languages == ("en",)
    with pytest.raises(PolyglotError, match="does not read 'de'"):
        mt_encoders.load_mt_encoder("embedded:pt-en", "de")
    # parallel sentences land closer than unrelated ones even before any stacking: the encoder reads pt
    batch = pt.tokenize(["O gato dorme no sofá.", "O gato dorme no sofá!", "A bolsa caiu muito hoje."], "pt")
    pooled = torch.nn.functional.normalize(pt.hidden_states(**batch).mean(1), dim=-1)
    assert pooled[0] @ pooled[1] > pooled[0] @ pooled[2]
