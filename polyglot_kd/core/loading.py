"""Loading encoders and tokenizers from a model directory or hub id, the same way everywhere, and
counting a model's parameters the same way everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from safetensors import SafetensorError
from transformers import AutoModel, AutoTokenizer

from polyglot_kd.methods.embed_init import factorised  # noqa: F401  registers the factorised-embedding model with AutoModel
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.weights import non_finite_count


def same_class_kwargs(model) -> dict:
    """Constructor keywords that rebuild a model of `model`'s class as it was: without a pooler when it
    had none (encoders loaded without one keep `pooler = None`)."""
    return {"add_pooling_layer": False} if getattr(model, "pooler", "absent") is None else {}


def load_encoder(path: str | Path, **kwargs):
    """The base encoder without the [CLS] pooler: sentence embeddings here are mean-pooled, and a
    checkpoint without pooler weights would otherwise get a randomly initialised one."""
    try:
        try:
            model = AutoModel.from_pretrained(path, add_pooling_layer=False, **kwargs)
        except TypeError:  # architectures without that switch
            model = AutoModel.from_pretrained(path, **kwargs)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise PolyglotError(f"cannot load the model in {path}: {type(exc).__name__}: {exc} "
                            "(a corrupt or truncated weights file? rebuild it with --force)") from None
    refuse_non_finite(model, path)
    return model.eval()


def refuse_non_finite(model, path) -> None:
    """A weights file overwritten in place loads without complaint; its NaN/inf values would only show
    as NaN scores later. Name the first tensor that has them."""
    for name, tensor in model.state_dict().items():  # state_dict tensors are detached: no graph is built
        if bad := non_finite_count(tensor):
            raise PolyglotError(f"the model in {path} has {bad:,} NaN/inf values in {name}: its weights file "
                                "is corrupt (rebuild it with --force; for an embedded teacher, "
                                "`polyglot-kd fetch --verify` converts it again)")


def load_tokenizer(path: str | Path):
    """AutoTokenizer, without transformers 4.57's spurious 'incorrect regex pattern' warning that it
    prints for any tokenizer.json it saved itself (the check is for Mistral tokenizers only)."""
    try:
        return AutoTokenizer.from_pretrained(path, fix_mistral_regex=False)
    except TypeError:
        return AutoTokenizer.from_pretrained(path)


def load_model_and_tokenizer(path: str | Path, **kwargs):
    return load_encoder(path, **kwargs), load_tokenizer(path)


def parameter_count(module_or_parameters) -> int:
    """Number of parameters (elements, not bytes) of a module, or of an iterable of parameters or
    tensors; a parameter shared by several modules (tied weights) counts once."""
    params: Iterable = (module_or_parameters.parameters() if hasattr(module_or_parameters, "parameters")
                        else module_or_parameters)
    seen: dict[int, object] = {}  # holds the tensors too, so an id is not reused while counting
    for p in params:
        seen.setdefault(id(p), p)
    return sum(p.numel() for p in seen.values())
