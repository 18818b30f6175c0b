"""A BERT encoder whose word embedding is factorised (OFA): E = coordinates @ primitives.

`coordinates` is (vocab, rank), `primitives` is (rank, hidden): vocab x rank + rank x hidden numbers
instead of vocab x hidden. The model is a registered `transformers` class (model_type
`polyglot_factorised_bert`), so `AutoModel.from_pretrained` rebuilds it from `config.json` (which
holds `embedding_rank`) and the safetensors weights once this module is imported (polyglot_kd
imports it in `modeling.py`). `save_pretrained` also copies this file beside the weights and writes
`auto_map` into the config, so outside polyglot-kd the folder loads with
`AutoModel.from_pretrained(path, trust_remote_code=True)`; `merged_copy` gives a plain `BertModel`
for tools that accept no custom code.

This file imports only torch and transformers: it travels with saved models.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig, BertModel

MODEL_TYPE = "polyglot_factorised_bert"


class FactorisedEmbedding(nn.Module):
    """Token embedding as the product of per-token coordinates and shared primitives."""

    def __init__(self, num_embeddings: int, rank: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings, self.rank, self.embedding_dim = num_embeddings, rank, embedding_dim
        self.padding_idx = padding_idx
        self.coordinates = nn.Parameter(torch.randn(num_embeddings, rank) * 0.02)
        self.primitives = nn.Parameter(torch.randn(rank, embedding_dim) * 0.02)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(input_ids, self.coordinates, self.padding_idx) @ self.primitives

    @property
    def weight(self) -> torch.Tensor:
        """The full (vocab, hidden) matrix, for code that reads `get_input_embeddings().weight`."""
        return self.coordinates @ self.primitives

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, rank={self.rank}, dim={self.embedding_dim}"


class FactorisedBertConfig(BertConfig):
    model_type = MODEL_TYPE

    def __init__(self, embedding_rank: int = 100, **kwargs):
        super().__init__(**kwargs)
        self.embedding_rank = embedding_rank


class FactorisedBertModel(BertModel):
    """`BertModel` with a `FactorisedEmbedding` as its word embedding."""

    config_class = FactorisedBertConfig

    def __init__(self, config: FactorisedBertConfig, add_pooling_layer: bool = True):
        super().__init__(config, add_pooling_layer=add_pooling_layer)
        self.embeddings.word_embeddings = FactorisedEmbedding(
            config.vocab_size, config.embedding_rank, config.hidden_size, config.pad_token_id)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, FactorisedEmbedding):
            return  # set by the initialisation method or loaded; random N(0, 0.02) by construction
        super()._init_weights(module)

    def merged_copy(self) -> BertModel:
        """A plain BertModel with E = coordinates @ primitives (loads anywhere, no custom code)."""
        config = BertConfig(**{k: v for k, v in self.config.to_dict().items()
                               if k not in ("embedding_rank", "model_type", "auto_map", "architectures")})
        plain = BertModel(config, add_pooling_layer=self.pooler is not None)
        state = {k: v for k, v in self.state_dict().items() if "word_embeddings" not in k}
        state["embeddings.word_embeddings.weight"] = self.embeddings.word_embeddings.weight.detach().clone()
        plain.load_state_dict(state)
        return plain.eval()


def factorise(model: BertModel, rank: int) -> FactorisedBertModel:
    """A copy of `model` whose word embedding is its best rank-`rank` approximation (truncated SVD:
    coordinates U_r S_r, primitives V_r^T); every other weight is copied unchanged."""
    weight = model.get_input_embeddings().weight.detach().float()
    vocab, width = weight.shape
    if not 1 <= rank <= min(vocab, width):
        raise ValueError(f"embedding rank {rank} must be between 1 and the width {width} (vocabulary {vocab})")
    u, s, vh = torch.linalg.svd(weight, full_matrices=False)
    keep = {k: v for k, v in model.config.to_dict().items()
            if k not in ("embedding_rank", "model_type", "auto_map", "architectures")}
    config = FactorisedBertConfig(embedding_rank=rank, **keep)
    out = FactorisedBertModel(config, add_pooling_layer=getattr(model, "pooler", None) is not None)
    state = {k: v for k, v in model.state_dict().items() if "word_embeddings" not in k}
    state["embeddings.word_embeddings.coordinates"] = (u[:, :rank] * s[:rank]).contiguous()
    state["embeddings.word_embeddings.primitives"] = vh[:rank].contiguous()
    out.load_state_dict(state)
    return out.to(model.dtype).eval()


def register() -> None:
    """Make AutoConfig / AutoModel know the factorised model (idempotent)."""
    try:
        AutoConfig.register(MODEL_TYPE, FactorisedBertConfig)
        AutoModel.register(FactorisedBertConfig, FactorisedBertModel)
    except ValueError:  # already registered
        pass


FactorisedBertConfig.register_for_auto_class()
FactorisedBertModel.register_for_auto_class("AutoModel")
register()
