"""Marian binary reader and the PyTorch port, on tiny Marian files written in-process (no network)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from polyglot_kd.methods.stacking.marian import port as mm
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.methods.stacking.marian.reader import read_marian
from tests.marian_tiny import marian_options, tiny_spm, tiny_weights, write_marian

CONFIG = mm.MarianConfig(vocab_size=60, dim=16, heads=4, ffn=24, encoder_layers=2, decoder_layers=2)


@pytest.fixture(scope="module")
def spm_file(tmp_path_factory):
    return tiny_spm(tmp_path_factory.mktemp("spm") / "vocab.spm", CONFIG.vocab_size)


@pytest.fixture(scope="module")
def weights():
    return tiny_weights(CONFIG)


def test_float32_round_trip(tmp_path, weights):
    path = tmp_path / "model.bin"
    write_marian(path, weights, options=marian_options(CONFIG))
    marian = read_marian(path)
    assert set(marian.weight_names()) == set(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(marian.tensor(name), value)
    assert marian.config["dim-emb"] == CONFIG.dim


def test_intgemm8_dequantisation_undoes_the_transposition(tmp_path, weights):
    path = tmp_path / "model.bin"
    multipliers = write_marian(path, weights, options=marian_options(CONFIG), quantise=True)
    marian = read_marian(path)
    assert "encoder_l1_self_Wq_QuantMultA" in marian.items  # present in the file, but not a weight
    assert "encoder_l1_self_Wq_QuantMultA" not in marian.weight_names()
    for name in ("Wemb", "encoder_l1_self_Wq", "encoder_l2_ffn_W1", "decoder_l1_rnn_Wf"):
        got, want = marian.tensor(name), weights[name]
        assert got.shape == want.shape  # (in, out) for the transposed ones, (vocab, dim) for Wemb
        assert np.abs(got - want).max() <= 0.5 / multipliers[name] + 1e-6
        assert np.abs(got - want).max() > 0  # really quantised
    # a non-square weight read without undoing the transposition would not even have the right shape
    assert marian.tensor("encoder_l1_ffn_W2").shape == (CONFIG.ffn, CONFIG.dim)


def test_port_maps_every_weight_and_transposes_linears(tmp_path, weights):
    path = tmp_path / "model.bin"
    write_marian(path, weights, options=marian_options(CONFIG))
    model = mm.from_marian_file(read_marian(path), "en", "pt")
    layer = model.encoder.layers[1]
    np.testing.assert_array_equal(layer.self_attn.q.weight.detach().numpy(), weights["encoder_l2_self_Wq"].T)
    np.testing.assert_array_equal(layer.ffn.ffn1.bias.detach().numpy(), weights["encoder_l2_ffn_b1"][0])
    np.testing.assert_array_equal(layer.self_ln.weight.detach().numpy(), weights["encoder_l2_self_Wo_ln_scale"][0])
    dec = model.decoder.layers[0]
    np.testing.assert_array_equal(dec.rnn_Wf.bias.detach().numpy(), weights["decoder_l1_rnn_bf"][0])
    assert model.decoder.embed.weight is model.encoder.embed.weight  # tied embeddings


def test_encoder_matches_a_by_hand_computation(tmp_path, weights, spm_file):
    """Embedding x sqrt(dim) + Marian's sinusoids, then one post-norm layer, recomputed with numpy."""
    path = tmp_path / "model.bin"
    config = mm.MarianConfig(**{**vars(CONFIG), "encoder_layers": 1})
    write_marian(path, weights, options=marian_options(config))
    encoder = mm.from_marian_file(read_marian(path)).encoder
    ids = torch.tensor([[5, 9, 0]])
    got = encoder(ids, torch.ones_like(ids)).last_hidden_state[0].detach().numpy()

    w = weights
    d, h = config.dim, config.heads
    pos = np.arange(3)[:, None] * np.exp(np.arange(d // 2) * -(np.log(10000.0) / (d // 2 - 1)))[None]
    x = w["Wemb"][[5, 9, 0]] * np.sqrt(d) + np.concatenate([np.sin(pos), np.cos(pos)], 1)

    def norm(y, name):
        y = (y - y.mean(-1, keepdims=True)) / np.sqrt(y.var(-1, keepdims=True) + 1e-6)
        return y * w[f"{name}_ln_scale"][0] + w[f"{name}_ln_bias"][0]

    p = "encoder_l1_self"
    q, k, v = (x @ w[f"{p}_W{c}"] + w[f"{p}_b{c}"][0] for c in "qkv")
    heads = []
    for i in range(h):
        s = slice(i * d // h, (i + 1) * d // h)
        a = q[:, s] @ k[:, s].T / np.sqrt(d // h)
        a = np.exp(a - a.max(1, keepdims=True))
        heads.append((a / a.sum(1, keepdims=True)) @ v[:, s])
    x = norm(x + np.concatenate(heads, 1) @ w[f"{p}_Wo"] + w[f"{p}_bo"][0], f"{p}_Wo")
    f = "encoder_l1_ffn"
    x = norm(x + np.maximum(x @ w[f"{f}_W1"] + w[f"{f}_b1"][0], 0) @ w[f"{f}_W2"] + w[f"{f}_b2"][0], f"{f}_ffn")
    np.testing.assert_allclose(got, x, atol=2e-4)


def test_ssru_step_follows_the_recurrence(tmp_path, weights):
    path = tmp_path / "model.bin"
    write_marian(path, weights, options=marian_options(CONFIG))
    layer = mm.from_marian_file(read_marian(path)).decoder.layers[0]
    x, cell = torch.randn(1, 1, CONFIG.dim), torch.randn(1, CONFIG.dim)
    x_np, c_np = x[0, 0].numpy(), cell[0].numpy()
    forget = 1 / (1 + np.exp(-(x_np @ weights["decoder_l1_rnn_Wf"] + weights["decoder_l1_rnn_bf"][0])))
    want = forget * c_np + (1 - forget) * (x_np @ weights["decoder_l1_rnn_W"])
    memory = torch.randn(1, 3, CONFIG.dim)
    _, new_cell = layer(x, cell, memory, None)
    np.testing.assert_allclose(new_cell[0].detach().numpy(), want, atol=1e-5)


def test_padding_does_not_change_the_encoding(tmp_path, weights, spm_file):
    path = tmp_path / "model.bin"
    write_marian(path, weights, options=marian_options(CONFIG))
    encoder = mm.from_marian_file(read_marian(path)).encoder
    tok = mm.SentencePieceTokenizer(spm_file)
    batch = tok(["o gato", "the dog runs in the garden"])
    assert batch["input_ids"][0, batch["attention_mask"][0].sum() - 1] == 0  # </s> appended
    alone = tok(["o gato"])
    with torch.no_grad():
        a = encoder(**alone).last_hidden_state[0]
        b = encoder(**batch).last_hidden_state[0, :a.shape[0]]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_save_load_and_translate(tmp_path, weights, spm_file):
    path = tmp_path / "model.bin"
    write_marian(path, weights, options=marian_options(CONFIG), quantise=True)
    model = mm.from_marian_file(read_marian(path), "en", "pt")
    mm.save_pretrained(model, tmp_path / "dir", spm_file)
    loaded, tok = mm.load_translator(tmp_path / "dir")
    assert len(tok) == CONFIG.vocab_size and loaded.config.source_lang == "en"
    texts = ["the cat sleeps", "um pássaro canta de manhã"]
    assert mm.translate(loaded, tok, texts) == mm.translate(model, tok, texts)
    encoder, _ = mm.load_encoder(tmp_path / "dir")
    enc = tok(texts)
    with torch.no_grad():
        torch.testing.assert_close(encoder(**enc).last_hidden_state, model.encoder(**enc).last_hidden_state)
    mm.save_pretrained(encoder, tmp_path / "enc", tmp_path / "dir" / mm.SPM_FILE)
    assert mm.load_encoder(tmp_path / "enc")[0].config.dim == CONFIG.dim
    with pytest.raises(PolyglotError, match="only the encoder"):
        mm.load_translator(tmp_path / "enc")


def test_bad_version_is_refused(tmp_path, weights):
    path = tmp_path / "model.bin"
    write_marian(path, weights, options=marian_options(CONFIG), version=7)
    with pytest.raises(PolyglotError, match="not a Marian binary model .format version 7"):
        read_marian(path)
    path.write_bytes(b"PK\x03\x04" + b"\0" * 40)  # a .npz (zip) model
    with pytest.raises(PolyglotError, match="not a Marian binary"):
        read_marian(path)


@pytest.mark.parametrize("keep", [10, 200, 0.6])
def test_truncated_file_is_refused(tmp_path, weights, keep):
    path = tmp_path / "model.bin"
    write_marian(path, weights, options=marian_options(CONFIG))
    data = path.read_bytes()
    path.write_bytes(data[:int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(PolyglotError, match="truncated Marian file"):
        read_marian(path)


def test_unknown_type_and_unsupported_architecture(tmp_path, weights):
    path = tmp_path / "model.bin"
    write_marian(path, weights, options=marian_options(CONFIG), extra=[("odd", 0x808, (1, 2), struct.pack("<2f", 1, 2))])
    with pytest.raises(PolyglotError, match="'odd' has type 0x808"):
        read_marian(path).tensor("odd")
    write_marian(path, weights, options=marian_options(CONFIG, **{"dec-cell": "lstm"}))
    with pytest.raises(PolyglotError, match="dec-cell='lstm'"):
        mm.from_marian_file(read_marian(path))
    write_marian(path, weights)  # no special:model.yml
    with pytest.raises(PolyglotError, match="no special:model.yml"):
        mm.from_marian_file(read_marian(path))
    del weights["decoder_l2_ffn_W2"]
    write_marian(path, weights, options=marian_options(CONFIG))
    with pytest.raises(PolyglotError, match="no tensor 'decoder_l2_ffn_W2'"):
        mm.from_marian_file(read_marian(path))


@pytest.mark.real
def test_embedded_model_translates_the_reference_sentence():
    from polyglot_kd.sources.marian import resolve_embedded_mt

    model, tok = mm.load_translator(resolve_embedded_mt("en-pt"))
    assert sum(p.numel() for p in model.parameters()) == 16_907_008
    assert mm.translate(model, tok, ["The government announced new measures to fight inflation."]) == [
        "O governo anunciou novas medidas para combater a inflação."]
    back, tok = mm.load_translator(resolve_embedded_mt("pt-en"))
    assert back.config.source_lang == "pt"
    assert mm.translate(back, tok, ["O governo anunciou novas medidas para combater a inflação."]) == [
        "The government has announced new measures to combat inflation."]
