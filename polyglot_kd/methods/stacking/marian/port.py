"""Marian's transformer encoder and SSRU decoder in PyTorch, for the tiny Firefox Translations models.

Encoder: token embeddings x sqrt(dim) + sinusoidal positions (sines in the first half, cosines in the
second), then post-LayerNorm layers (self-attention, add, LayerNorm; ReLU FFN, add, LayerNorm), no final
norm. Decoder: per layer an SSRU (c = f * c_prev + (1 - f) * W x, f = sigmoid(Wf x + bf), output
relu(c)), cross-attention and FFN, each followed by add + LayerNorm; its first input is a zero vector,
and the output layer is tied to the embeddings. The encoder is what stacking uses; the decoder is here
to check the port by translating (:func:`translate`).

A converted model is a directory: ``config.json``, ``model.safetensors`` (encoder, and the decoder unless
only the encoder was saved) and ``spm.model`` (the sentencepiece vocabulary, shared by both sides).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import sentencepiece
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from transformers import BatchEncoding
from transformers.modeling_outputs import BaseModelOutput

from polyglot_kd.core.errors import PolyglotError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
SPM_FILE = "spm.model"
MODEL_TYPE = "polyglot-kd-marian"


@dataclass
class MarianConfig:
    """Sizes and vocabulary facts of a Marian transformer with an SSRU decoder."""

    vocab_size: int = 32000
    dim: int = 256
    heads: int = 8
    ffn: int = 1536
    encoder_layers: int = 6
    decoder_layers: int = 2
    eps: float = 1e-6  # Marian's transformer LayerNorm epsilon
    eos_id: int = 0
    source_lang: str = ""
    target_lang: str = ""
    origin: str = ""
    max_length_factor: float = 2.5  # longest translation, relative to the source (Marian's default)

    @property
    def hidden_size(self) -> int:  # the name Hugging Face configs use
        return self.dim

    @classmethod
    def from_dict(cls, data: dict) -> "MarianConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def sinusoids(length: int, dim: int, start: int = 0, device=None) -> torch.Tensor:
    """Marian's position signal: sin in the first dim/2 channels, cos in the rest, timescales up to 10^4."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32, device=device) * -(math.log(10000.0) / (half - 1)))
    angles = torch.arange(start, start + length, dtype=torch.float32, device=device)[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Attention(nn.Module):
    """Multi-head scaled dot-product attention with query, key, value and output projections."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape
        split = lambda y: y.view(b, -1, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(memory)), split(self.v(memory)),
                                             attn_mask=mask)
        return self.o(out.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    def __init__(self, dim: int, ffn: int):
        super().__init__()
        self.ffn1, self.ffn2 = nn.Linear(dim, ffn), nn.Linear(ffn, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn2(F.relu(self.ffn1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c: MarianConfig):
        super().__init__()
        self.self_attn, self.self_ln = Attention(c.dim, c.heads), nn.LayerNorm(c.dim, eps=c.eps)
        self.ffn, self.ffn_ln = FeedForward(c.dim, c.ffn), nn.LayerNorm(c.dim, eps=c.eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.self_ln(x + self.self_attn(x, x, mask))
        return self.ffn_ln(x + self.ffn(x))


def _key_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(batch, 1, 1, keys) boolean mask for scaled_dot_product_attention: True where a key may be attended."""
    return None if attention_mask is None else attention_mask.bool()[:, None, None, :]


class MarianEncoder(nn.Module):
    """The encoder; called like a Hugging Face encoder (input_ids, attention_mask -> last_hidden_state)."""

    def __init__(self, config: MarianConfig, embed: nn.Embedding | None = None):
        super().__init__()
        self.config = config
        self.embed = embed if embed is not None else nn.Embedding(config.vocab_size, config.dim)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.encoder_layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_) -> BaseModelOutput:
        x = self.embed(input_ids) * math.sqrt(self.config.dim)
        x = x + sinusoids(input_ids.shape[1], self.config.dim, device=x.device).to(x.dtype)
        mask = _key_mask(attention_mask)
        for layer in self.layers:
            x = layer(x, mask)
        return BaseModelOutput(last_hidden_state=x)


class DecoderLayer(nn.Module):
    def __init__(self, c: MarianConfig):
        super().__init__()
        self.rnn_W = nn.Linear(c.dim, c.dim, bias=False)
        self.rnn_Wf = nn.Linear(c.dim, c.dim)
        self.rnn_ln = nn.LayerNorm(c.dim, eps=c.eps)
        self.context, self.context_ln = Attention(c.dim, c.heads), nn.LayerNorm(c.dim, eps=c.eps)
        self.ffn, self.ffn_ln = FeedForward(c.dim, c.ffn), nn.LayerNorm(c.dim, eps=c.eps)

    def forward(self, x: torch.Tensor, cell: torch.Tensor, memory: torch.Tensor, mask) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoding step: x (batch, 1, dim), cell (batch, dim) -> new x and cell state."""
        forget = torch.sigmoid(self.rnn_Wf(x[:, 0]))
        cell = forget * cell + (1 - forget) * self.rnn_W(x[:, 0])
        x = self.rnn_ln(x + F.relu(cell)[:, None])
        x = self.context_ln(x + self.context(x, memory, mask))
        return self.ffn_ln(x + self.ffn(x)), cell


class MarianDecoder(nn.Module):
    """SSRU decoder, stepped one token at a time (enough for greedy translation)."""

    def __init__(self, config: MarianConfig, embed: nn.Embedding):
        super().__init__()
        self.config = config
        self.embed = embed
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.decoder_layers))
        self.out_bias = nn.Parameter(torch.zeros(config.vocab_size))

    def step(self, previous: torch.Tensor | None, position: int, cells: list[torch.Tensor], memory: torch.Tensor,
             mask) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits for the next token given the previous one (None at the start) and the SSRU cells."""
        b, d = memory.shape[0], self.config.dim
        x = (torch.zeros(b, 1, d, device=memory.device) if previous is None else self.embed(previous)[:, None])
        x = x * math.sqrt(d) + sinusoids(1, d, start=position, device=memory.device)
        new_cells = []
        for layer, cell in zip(self.layers, cells):
            x, cell = layer(x, cell, memory, mask)
            new_cells.append(cell)
        return x[:, 0] @ self.embed.weight.T + self.out_bias, new_cells


class MarianTranslator(nn.Module):
    """Encoder + decoder sharing one embedding matrix (also the output layer)."""

    def __init__(self, config: MarianConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.dim)
        self.encoder = MarianEncoder(config, self.embed)
        self.decoder = MarianDecoder(config, self.embed)


class SentencePieceTokenizer:
    """Marian's source-side tokenisation: sentencepiece pieces + </s>, padded, with an attention mask.

    Called like a Hugging Face tokenizer (``tok(texts, padding=True, truncation=True, max_length=..,
    return_tensors="pt")``) so the same encoding code serves both."""

    def __init__(self, spm_file: str | Path, eos_id: int = 0):
        self.spm_file = Path(spm_file)
        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(spm_file))
        self.eos_id = eos_id
        self.pad_token_id = eos_id  # Marian pads with </s>; the attention mask hides the padding

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def __call__(self, texts, padding=True, truncation=True, max_length: int | None = None,
                 return_tensors="pt", **_) -> BatchEncoding:
        texts = [texts] if isinstance(texts, str) else list(texts)
        ids = self.sp.encode(texts)
        if truncation and max_length:
            ids = [x[:max_length - 1] for x in ids]
        ids = [x + [self.eos_id] for x in ids]
        width = max(map(len, ids))
        input_ids = torch.full((len(ids), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, x in enumerate(ids):
            input_ids[i, :len(x)] = torch.tensor(x)
            attention_mask[i, :len(x)] = 1
        return BatchEncoding({"input_ids": input_ids, "attention_mask": attention_mask})

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        if self.eos_id in ids:
            ids = ids[:ids.index(self.eos_id)]
        return self.sp.decode(ids)

    def save_pretrained(self, directory: str | Path) -> None:
        shutil.copyfile(self.spm_file, Path(directory) / SPM_FILE)


@torch.inference_mode()
def translate(model: MarianTranslator, tokenizer: SentencePieceTokenizer, texts: list[str]) -> list[str]:
    """Greedy translation (Marian's beam size 1), up to max_length_factor x the source length."""
    model.eval()
    enc = tokenizer(texts)
    memory = model.encoder(enc["input_ids"], enc["attention_mask"]).last_hidden_state
    mask = _key_mask(enc["attention_mask"])
    b = len(texts)
    cells = [memory.new_zeros(b, model.config.dim) for _ in model.decoder.layers]
    previous, out = None, []
    done = torch.zeros(b, dtype=torch.bool)
    limit = int(model.config.max_length_factor * enc["input_ids"].shape[1]) + 1
    for position in range(limit):
        logits, cells = model.decoder.step(previous, position, cells, memory, mask)
        previous = logits.argmax(-1).masked_fill(done, tokenizer.eos_id)
        out.append(previous)
        done |= previous == tokenizer.eos_id
        if done.all():
            break
    tokens = torch.stack(out, 1).tolist()
    return [tokenizer.decode(t) for t in tokens]


# --- conversion from a Marian file, saving and loading ----------------------------------------------

_SUPPORTED = {"type": "transformer", "transformer-decoder-autoreg": "rnn", "dec-cell": "ssru",
              "transformer-postprocess": "dan", "transformer-preprocess": "", "transformer-ffn-activation": "relu",
              "transformer-ffn-depth": 2, "tied-embeddings-all": True}


def _marian_names(c: MarianConfig) -> dict[str, str]:
    """Our state-dict key -> Marian parameter name."""
    names = {"embed.weight": "Wemb", "decoder.out_bias": "decoder_ff_logit_out_b"}

    def attention(ours: str, theirs: str) -> None:
        for p in "qkvo":
            names[f"{ours}.{p}.weight"], names[f"{ours}.{p}.bias"] = f"{theirs}_W{p}", f"{theirs}_b{p}"

    def norm(ours: str, theirs: str) -> None:
        names[f"{ours}.weight"], names[f"{ours}.bias"] = f"{theirs}_ln_scale", f"{theirs}_ln_bias"

    def ffn(ours: str, theirs: str) -> None:
        for i in (1, 2):
            names[f"{ours}.ffn{i}.weight"], names[f"{ours}.ffn{i}.bias"] = f"{theirs}_W{i}", f"{theirs}_b{i}"
        norm(f"{ours}_ln", f"{theirs}_ffn")

    for i in range(c.encoder_layers):
        ours, theirs = f"encoder.layers.{i}", f"encoder_l{i + 1}"
        attention(f"{ours}.self_attn", f"{theirs}_self")
        norm(f"{ours}.self_ln", f"{theirs}_self_Wo")
        ffn(f"{ours}.ffn", f"{theirs}_ffn")
    for i in range(c.decoder_layers):
        ours, theirs = f"decoder.layers.{i}", f"decoder_l{i + 1}"
        names[f"{ours}.rnn_W.weight"] = f"{theirs}_rnn_W"
        names[f"{ours}.rnn_Wf.weight"], names[f"{ours}.rnn_Wf.bias"] = f"{theirs}_rnn_Wf", f"{theirs}_rnn_bf"
        norm(f"{ours}.rnn_ln", f"{theirs}_rnn_ffn")
        attention(f"{ours}.context", f"{theirs}_context")
        norm(f"{ours}.context_ln", f"{theirs}_context_Wo")
        ffn(f"{ours}.ffn", f"{theirs}_ffn")
    return names


def from_marian_file(marian, source: str = "", target: str = "", origin: str = "") -> MarianTranslator:
    """Build a MarianTranslator from a parsed Marian file (:class:`polyglot_kd.methods.stacking.marian.reader.MarianFile`)."""
    opts = marian.config
    wrong = [f"{k}={opts.get(k)!r} (supported: {v!r})" for k, v in _SUPPORTED.items() if opts.get(k, v) != v]
    if wrong or not opts:
        raise PolyglotError(f"{marian.path}: unsupported Marian architecture: "
                            f"{'; '.join(wrong) or 'the file has no special:model.yml'}")
    config = MarianConfig(vocab_size=int(opts["dim-vocabs"][0]), dim=int(opts["dim-emb"]),
                          heads=int(opts["transformer-heads"]), ffn=int(opts["transformer-dim-ffn"]),
                          encoder_layers=int(opts["enc-depth"]), decoder_layers=int(opts["dec-depth"]),
                          source_lang=source, target_lang=target, origin=origin)
    model = MarianTranslator(config)
    state = {}
    for ours, theirs in _marian_names(config).items():
        value = marian.tensor(theirs)
        if theirs.rsplit("_", 1)[-1].startswith("W") and theirs != "Wemb":
            value = value.T  # Marian computes x @ W with W (in, out); nn.Linear stores (out, in)
        expected = tuple(model.get_parameter(ours).shape)
        value = value.reshape(-1) if len(expected) == 1 else value
        if value.shape != expected:
            raise PolyglotError(f"{marian.path}: {theirs} has shape {value.shape}, expected {expected} for this config")
        state[ours] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    missing = set(model.state_dict()) - set(state) - {k for k in model.state_dict() if k.startswith(("encoder.embed.", "decoder.embed."))}
    if missing:
        raise PolyglotError(f"{marian.path}: no weights for {sorted(missing)}")
    model.load_state_dict(state, strict=False)
    return model.eval()


def _own_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """State dict without the shared embedding's aliases (safetensors refuses shared storage)."""
    prefix = "encoder." if isinstance(model, MarianEncoder) else ""
    state = {f"{prefix}{k}": v for k, v in model.state_dict().items()}
    state = {("embed.weight" if k == "encoder.embed.weight" else k): v for k, v in state.items()}
    return {k: v.detach().contiguous().clone() for k, v in state.items()
            if not k.startswith(("encoder.embed.", "decoder.embed."))}


def save_pretrained(model: MarianTranslator | MarianEncoder, directory: str | Path, spm_file: str | Path) -> Path:
    """Write config.json, model.safetensors and spm.model; an encoder alone saves without the decoder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = asdict(model.config) | {"model_type": MODEL_TYPE, "has_decoder": isinstance(model, MarianTranslator)}
    save_file(_own_state(model), str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    if Path(spm_file).resolve() != (directory / SPM_FILE).resolve():
        shutil.copyfile(spm_file, directory / SPM_FILE)
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    return directory


def is_marian_dir(path: str | Path) -> bool:
    config = Path(path) / CONFIG_FILE
    return config.is_file() and json.loads(config.read_text()).get("model_type") == MODEL_TYPE


def _read(directory: Path, want_decoder: bool) -> tuple[MarianConfig, dict[str, torch.Tensor]]:
    if not is_marian_dir(directory):
        raise PolyglotError(f"{directory} is not a converted Marian model directory (no {CONFIG_FILE} "
                            f"with model_type {MODEL_TYPE!r})")
    data = json.loads((directory / CONFIG_FILE).read_text())
    if want_decoder and not data.get("has_decoder"):
        raise PolyglotError(f"{directory} holds only the encoder of its Marian model; translation needs the decoder")
    config = MarianConfig.from_dict(data)
    with safe_open(str(directory / WEIGHTS_FILE), framework="pt") as f:
        keys = [k for k in f.keys() if want_decoder or not k.startswith("decoder.")]
        return config, {k: f.get_tensor(k) for k in keys}


def load_encoder(directory: str | Path) -> tuple[MarianEncoder, SentencePieceTokenizer]:
    """The encoder alone (the decoder's weights are not read) and its tokenizer."""
    directory = Path(directory)
    config, state = _read(directory, want_decoder=False)
    encoder = MarianEncoder(config)
    encoder.load_state_dict({k.removeprefix("encoder."): v for k, v in state.items()})
    return encoder.eval(), SentencePieceTokenizer(directory / SPM_FILE, config.eos_id)


def load_translator(directory: str | Path) -> tuple[MarianTranslator, SentencePieceTokenizer]:
    directory = Path(directory)
    config, state = _read(directory, want_decoder=True)
    model = MarianTranslator(config)
    model.load_state_dict(state, strict=False)
    missing = set(_own_state(model)) - set(state)
    if missing:
        raise PolyglotError(f"{directory / WEIGHTS_FILE} lacks {sorted(missing)[:5]}")
    return model.eval(), SentencePieceTokenizer(directory / SPM_FILE, config.eos_id)
