"""Embedding warm-up: after initialisation, only the new embeddings train, the body stays frozen.

This plays the role of OFA's continued pretraining at a fraction of its cost: the initialised
embeddings are moved towards what the frozen layers expect, before the student is cut from the model.
The objective is the distill stage's (the trimmed model as teacher, word-aligned hidden-state and
attention losses over every layer); the pipeline stage wires it, this module says what trains.
"""

from __future__ import annotations

from torch import nn

WORD_EMBEDDINGS = "embeddings.word_embeddings."


def train_embeddings_only(model: nn.Module) -> list[str]:
    """Freeze every parameter of `model` except its word embedding (full, or coordinates and primitives
    of a factorised one); the names of those left trainable."""
    trainable = []
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(WORD_EMBEDDINGS))
        if param.requires_grad:
            trainable.append(name)
    if not trainable:
        raise ValueError("the model has no parameters under 'embeddings.word_embeddings'; expected a BERT-style encoder")
    return trainable


def copy_embeddings(source: nn.Module, target: nn.Module) -> None:
    """Put `source`'s word-embedding weights into `target` (same vocabulary and shapes)."""
    state = {k: v for k, v in source.state_dict().items() if k.startswith(WORD_EMBEDDINGS)}
    missing = set(k for k in target.state_dict() if k.startswith(WORD_EMBEDDINGS)) - set(state)
    if missing:
        raise ValueError(f"word-embedding weights differ between the models: {sorted(missing)}")
    target.load_state_dict(state, strict=False)
