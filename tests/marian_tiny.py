"""Tiny Marian binary files and sentencepiece vocabularies written in-process, as Marian lays them out."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import sentencepiece
import yaml

from polyglot_kd.core.loading import load_model_and_tokenizer
from polyglot_kd.methods.stacking import mt_encoders
from polyglot_kd.methods.stacking.marian import port
from polyglot_kd.methods.stacking.marian.port import MarianConfig, _marian_names
from polyglot_kd.methods.stacking.marian.reader import read_marian
from polyglot_kd.methods.stacking.model import StackedModel
from tests.tiny import CORPUS

FLOAT32, INT8, INTGEMM8 = 0x404, 0x101, 0x4101
ALIGN = 256


def tiny_spm(path: Path, vocab_size: int = 60, marian: bool = True) -> Path:
    """A sentencepiece model with Marian's conventions (</s> = 0, <unk> = 1, no <s> or <pad>), or with
    sentencepiece's defaults (<unk> = 0, <s> = 1, </s> = 2), which fairseq-style tokenizers expect."""
    buffer = io.BytesIO()
    ids = dict(eos_id=0, unk_id=1, bos_id=-1, pad_id=-1) if marian else {}
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=buffer, vocab_size=vocab_size, model_type="unigram",
        minloglevel=2, **ids)
    path.write_bytes(buffer.getvalue())
    return path


def tiny_weights(config: MarianConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights under Marian's names, in Marian's layout (linear weights are (in, out))."""
    rng = np.random.default_rng(seed)
    shapes = {}
    d, f, v = config.dim, config.ffn, config.vocab_size
    for ours, theirs in _marian_names(config).items():
        if theirs == "Wemb":
            shapes[theirs] = (v, d)
        elif theirs == "decoder_ff_logit_out_b":
            shapes[theirs] = (1, v)
        elif theirs.endswith("_W1"):
            shapes[theirs] = (d, f)
        elif theirs.endswith("_W2"):
            shapes[theirs] = (f, d)
        elif theirs.endswith("_b1"):
            shapes[theirs] = (1, f)
        elif ours.endswith(".weight") and "ln" not in ours:
            shapes[theirs] = (d, d)
        else:
            shapes[theirs] = (1, d)
    out = {name: rng.normal(0, 0.3, size=shape).astype(np.float32) for name, shape in shapes.items()}
    for name in out:
        if name.endswith("_ln_scale"):
            out[name] = 1 + 0.1 * out[name]
    return out


def marian_options(config: MarianConfig, **overrides) -> dict:
    options = {"type": "transformer", "dim-emb": config.dim, "dim-vocabs": [config.vocab_size] * 2,
               "enc-depth": config.encoder_layers, "dec-depth": config.decoder_layers,
               "transformer-heads": config.heads, "transformer-dim-ffn": config.ffn,
               "transformer-decoder-autoreg": "rnn", "dec-cell": "ssru", "transformer-postprocess": "dan",
               "transformer-preprocess": "", "transformer-ffn-activation": "relu", "transformer-ffn-depth": 2,
               "tied-embeddings-all": True}
    return options | overrides


def quantise_intgemm8(name: str, value: np.ndarray) -> tuple[bytes, float]:
    """intgemm8 as Marian's converter writes it: transposed (except Wemb), q = round(x * 127 / max|x|),
    then the f32 multiplier."""
    multiplier = 127.0 / float(np.abs(value).max())
    stored = value if "Wemb" in name else value.T
    q = np.clip(np.round(stored * multiplier), -127, 127).astype(np.int8)
    return q.tobytes() + struct.pack("<f", multiplier), multiplier


def write_marian(path: Path, weights: dict[str, np.ndarray], *, options: dict | None = None, quantise: bool = False,
                 version: int = 1, extra: list[tuple[str, int, tuple, bytes]] = ()) -> dict[str, float]:
    """Write a Marian binary; returns the quantisation multiplier of every intgemm8 tensor."""
    items, multipliers = [], {}
    for name, value in sorted(weights.items()):
        if quantise and value.ndim == 2 and value.shape[0] > 1:
            data, multipliers[name] = quantise_intgemm8(name, value)
            items.append((name, INTGEMM8, value.shape, data))
            items.append((f"{name}_QuantMultA", FLOAT32, (1, 1), struct.pack("<f", 3.0)))
        else:
            items.append((name, FLOAT32, value.shape, value.astype("<f4").tobytes()))
    items += list(extra)
    if options is not None:
        text = yaml.safe_dump(options).encode() + b"\0"
        items.append(("special:model.yml", INT8, (len(text),), text))
    padded = [data + b"\0" * (-len(data) % ALIGN) for *_, data in items]
    names = [name.encode() + b"\0" for name, *_ in items]
    head = struct.pack("<QQ", version, len(items))
    for name, (_, type_, shape, _), data in zip(names, items, padded):
        head += struct.pack("<4Q", len(name), type_, len(shape), len(data))
    head += b"".join(names)
    head += b"".join(struct.pack(f"<{len(shape)}i", *shape) for _, _, shape, _ in items)
    pad = -(len(head) + 8) % ALIGN
    head += struct.pack("<Q", pad) + b"\0" * pad
    path.write_bytes(head + b"".join(padded))
    return multipliers


MT_CONFIG = port.MarianConfig(vocab_size=60, dim=16, heads=2, ffn=24, encoder_layers=2, decoder_layers=1)


def save_tiny_mt(directory, config=MT_CONFIG, seed=0):
    """A converted Marian model directory whose encoder 'reads Portuguese'."""
    directory.mkdir(parents=True)
    write_marian(directory / "model.bin", tiny_weights(config, seed), options=marian_options(config), quantise=True)
    model = port.from_marian_file(read_marian(directory / "model.bin"), "pt", "en")
    return port.save_pretrained(model, directory / "converted", tiny_spm(directory / "vocab.spm", config.vocab_size))


def stacked(parts, enter_layer=0, trainable_layers=0):
    """A StackedModel of the `parts` fixture's backbone and MT model."""
    backbone, tokenizer = load_model_and_tokenizer(parts[0])
    mt = mt_encoders.load_mt_encoder(str(parts[1]), "pt")
    return StackedModel(backbone, tokenizer, mt, "pt", enter_layer, trainable_layers)
