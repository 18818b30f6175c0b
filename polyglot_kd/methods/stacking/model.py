"""A frozen MT encoder stacked under the backbone's layers (MT-LLM), with the backbone's mean pooling on top.

Text in the stacked language goes: MT encoder (frozen) -> trainable projection (width_mt -> hidden) ->
the backbone from layer ``enter_layer`` up (0: as input embeddings, through the backbone's position
embeddings and embedding LayerNorm; k > 0: through a trainable LayerNorm straight into layer k, and the
layers below are never run) -> mean pooling. ``trainable_layers`` trainable copies of the first layers
above the entry point adapt the backbone to the MT states; the original layers stay frozen, because
the backbone itself keeps reading every other language (English above all) with its own tokens.

So a saved stacked model reads two ways, chosen by language (:meth:`StackedModel.route`): the stacked
language through the MT encoder, everything else natively. Its directory holds ``stacking.json``,
``stacked.safetensors`` (projection, entry norm, adapted layers), ``backbone/`` and ``mt_encoder/``.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from polyglot_kd.methods.stacking import mt_encoders
from polyglot_kd.core.pooling import encode, mean_pool
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import load_model_and_tokenizer, parameter_count

log = logging.getLogger(__name__)

STACKING_FILE = "stacking.json"
WEIGHTS_FILE = "stacked.safetensors"
BACKBONE_DIR = "backbone"
MT_DIR = "mt_encoder"
FORMAT = "polyglot-kd-stacked"


@dataclass
class StackingInfo:
    """What a stacked model is made of (saved as stacking.json)."""

    language: str  # what the MT route reads
    enter_layer: int
    trainable_layers: int
    mt_spec: str
    mt_width: int
    hidden: int
    backbone_layers: int
    format: str = FORMAT


def backbone_layers(backbone) -> nn.ModuleList:
    """The transformer layers of a BERT / RoBERTa / XLM-R style encoder, or a clear error."""
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList) or not hasattr(backbone, "embeddings"):
        raise PolyglotError(f"cannot stack under a {type(backbone).__name__}: stacking needs a BERT-style encoder "
                            "(.embeddings and .encoder.layer), such as the embedded teacher or a trimmed build")
    return layers


class StackedModel(nn.Module):
    """MT encoder -> projection -> backbone layers from `enter_layer` up; see the module docstring."""

    def __init__(self, backbone, backbone_tokenizer, mt: mt_encoders.MTEncoder, language: str,
                 enter_layer: int = 0, trainable_layers: int = 0):
        super().__init__()
        layers = backbone_layers(backbone)
        if not 0 <= enter_layer <= len(layers):
            raise PolyglotError(f"enter_layer {enter_layer} is outside the backbone's layers: expected 0 "
                                f"(input embeddings) to {len(layers)} (after the last layer)")
        if not 0 <= trainable_layers <= len(layers) - enter_layer:
            raise PolyglotError(f"trainable_layers {trainable_layers}: only {len(layers) - enter_layer} backbone "
                                f"layers lie above enter_layer {enter_layer}")
        mt.check_language(language)
        hidden = backbone.config.hidden_size
        self.info = StackingInfo(language, enter_layer, trainable_layers, mt.spec, mt.width, hidden, len(layers))
        self.backbone = backbone.requires_grad_(False)
        self.tokenizer = backbone_tokenizer
        self.mt = mt
        self.mt_encoder = mt.encoder  # registered, so .to(device) and parameter counts see it
        self.config = backbone.config  # embed.encode reads config.hidden_size
        self.projection = nn.Linear(mt.width, hidden)
        # the states a layer k > 0 expects are LayerNorm outputs; at k = 0 the embedding LayerNorm does this
        self.entry_norm = nn.LayerNorm(hidden, eps=backbone.config.layer_norm_eps) if enter_layer > 0 else None
        self.adapted = nn.ModuleList(copy.deepcopy(layers[enter_layer + i]) for i in range(trainable_layers))
        self.adapted.requires_grad_(True)

    def train(self, mode: bool = True):
        # no dropout anywhere: the frozen parts must read as the teacher does, and distillation runs without it
        return super().train(False)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def mt_hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states of the MT route for MT-tokenised input."""
        with torch.no_grad():
            x = self.mt_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        x = self.projection(x)
        k = self.info.enter_layer
        x = self.backbone.embeddings(inputs_embeds=x) if k == 0 else self.entry_norm(x)
        mask = self.backbone.get_extended_attention_mask(attention_mask, attention_mask.shape)
        upper = backbone_layers(self.backbone)[k + self.info.trainable_layers:]
        for layer in [*self.adapted, *upper]:
            x = layer(x, attention_mask=mask)[0]
        return x

    def pooled(self, texts: list[str], language: str | None = None, max_length: int = 128,
               normalize: bool = True) -> torch.Tensor:
        """(L2-normalised) mean-pooled embeddings through the MT route, with gradients (for training)."""
        device = self.projection.weight.device
        batch = self.mt.tokenize(texts, language or self.info.language, max_length).to(device)
        hidden = self.mt_hidden(batch["input_ids"], batch["attention_mask"])
        pooled = mean_pool(hidden, batch["attention_mask"])
        return nn.functional.normalize(pooled, dim=-1) if normalize else pooled

    def route(self, language: str):
        """(model, tokenizer) that `polyglot_kd.core.pooling.encode` accepts, for text in `language`."""
        if language == self.info.language:
            return _MTRoute(self), _MTTokenizer(self.mt, language)
        return self.backbone, self.tokenizer

    def encode(self, texts: list[str], language: str, **kwargs) -> np.ndarray:
        model, tokenizer = self.route(language)
        return encode(model, tokenizer, texts, **kwargs)

    def route_parameters(self, language: str | None = None) -> int:
        """Parameters used to read `language` (default: the stacked language)."""
        if language not in (None, self.info.language):
            return parameter_count(self.backbone)
        k, n = self.info.enter_layer, self.info.trainable_layers
        parts = [self.mt_encoder, self.projection, self.adapted, *backbone_layers(self.backbone)[k + n:]]
        if self.entry_norm is not None:
            parts.append(self.entry_norm)
        params = [p for part in parts for p in part.parameters()]
        if k == 0:  # positions, token types and LayerNorm of the embeddings; not the word embeddings
            emb = self.backbone.embeddings
            params += [p for name, p in emb.named_parameters() if not name.startswith("word_embeddings")]
        return parameter_count(params)

    def own_state(self) -> dict[str, torch.Tensor]:
        """The weights stacking adds (projection, entry norm, adapted layers)."""
        state = {}
        for name in ("projection", "entry_norm", "adapted"):
            module = getattr(self, name)
            if module is not None:
                state |= {f"{name}.{k}": v.detach().contiguous() for k, v in module.state_dict().items()}
        return state

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(directory / BACKBONE_DIR, safe_serialization=True)
        self.tokenizer.save_pretrained(directory / BACKBONE_DIR)
        self.mt.save(directory / MT_DIR)
        save_file(self.own_state(), str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
        (directory / STACKING_FILE).write_text(json.dumps(asdict(self.info), indent=2), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "StackedModel":
        directory = Path(directory)
        if not is_stacked(directory):
            raise PolyglotError(f"{directory} is not a stacked model ({STACKING_FILE} missing)")
        info = StackingInfo(**json.loads((directory / STACKING_FILE).read_text()))
        backbone, tokenizer = load_model_and_tokenizer(directory / BACKBONE_DIR)
        mt = mt_encoders.load_saved(directory / MT_DIR)
        model = cls(backbone, tokenizer, mt, info.language, info.enter_layer, info.trainable_layers)
        state = load_file(str(directory / WEIGHTS_FILE))
        want = (info.hidden, mt.width)
        got = tuple(state.get("projection.weight", torch.empty(0)).shape)
        if got != want:
            maps = f"maps {got[1]} -> {got[0]}" if len(got) == 2 else "is missing"
            raise PolyglotError(f"the projection in {directory / WEIGHTS_FILE} {maps}, but the MT encoder in "
                                f"{directory / MT_DIR} ({mt.spec}) is {mt.width} wide and the backbone {info.hidden}: "
                                "the MT encoder does not match the projection")
        missing, unexpected = model.load_state_dict(state, strict=False)
        own = set(model.own_state())
        if own - set(state) or unexpected:
            raise PolyglotError(f"{directory / WEIGHTS_FILE} does not match {STACKING_FILE}: missing "
                                f"{sorted(own - set(state))[:3]}, unexpected {sorted(unexpected)[:3]}")
        return model.eval()


def is_stacked(path: str | Path) -> bool:
    return (Path(path) / STACKING_FILE).is_file()


class _MTRoute(nn.Module):
    """The MT route as a model that `embed.encode` can call (input_ids, attention_mask -> last_hidden_state)."""

    def __init__(self, stacked: StackedModel):
        super().__init__()
        self.stacked = stacked
        self.config = stacked.config

    def forward(self, input_ids, attention_mask, **_) -> BaseModelOutput:
        return BaseModelOutput(last_hidden_state=self.stacked.mt_hidden(input_ids, attention_mask))


class _MTTokenizer:
    """The MT tokenizer with the language fixed, called like a Hugging Face tokenizer."""

    def __init__(self, mt: mt_encoders.MTEncoder, language: str):
        self.mt, self.language = mt, language

    def __call__(self, texts, max_length: int = 128, **_):
        return self.mt.tokenize(texts, self.language, max_length)


def retrieval_scores(model: StackedModel, dataset, source: str, target: str, batch_size: int = 64,
                     max_length: int = 128, prefix: str = "") -> dict[str, float]:
    """Tatoeba-style retrieval with each side read by its own route (the target through the MT encoder)."""
    from polyglot_kd.tasks.retrieval import accuracy

    kwargs = dict(batch_size=batch_size, max_length=max_length)
    src = model.encode(dataset.source, source, prefix=prefix, **kwargs)
    # the prefix is a backbone convention ("query: "); the MT route reads plain sentences
    tgt = model.encode(dataset.target, target, prefix="" if target == model.info.language else prefix, **kwargs)
    return accuracy(src, tgt) | {"n": len(dataset)}
