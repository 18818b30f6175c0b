"""Where an encoder keeps its transformer layers, found through its config (any `transformers` encoder)."""

from __future__ import annotations

from torch import nn

from polyglot_kd.core.errors import PolyglotError


def layer_list(model) -> nn.ModuleList:
    """The encoder's stack of transformer layers: the ModuleList as long as config.num_hidden_layers."""
    n = model.config.num_hidden_layers
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise PolyglotError(f"cannot find the {n} transformer layers of {type(model).__name__}")


def layer_prefix(model) -> str:
    """The state-dict name of that stack ('encoder.layer'): layer i's tensors start with f'{prefix}.{i}.'."""
    stack = layer_list(model)
    return next(name for name, m in model.named_modules() if m is stack)
