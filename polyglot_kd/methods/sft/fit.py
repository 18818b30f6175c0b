"""What every task training method takes and returns, and the pieces they share.

A method is a function `fit(model, setup) -> Fitted`, declared in `FINETUNE_METHODS`. It trains `model` (a transformers model with a task head) in place on
English with English-dev checkpoint selection, and returns what it trained and stored, and how to
switch the model to a test language (MAD-X language adapters, language SFTs) where there are any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

LANGUAGE_SFT_DIR = "language-sft"  # <model dir>/language-sft/<lang>/sft.safetensors
LANGUAGE_ADAPTER_DIR = "language-adapters"  # <model dir>/language-adapters/<lang>/ (adapters' save_adapter)


@dataclass
class FitSetup:
    """What a method needs besides the model."""

    options: object
    """polyglot_kd.config.FinetuneConfig: epochs, learning rates, density, ..."""
    batches: Callable
    """rng -> one epoch of training batches."""
    dev: Callable[[torch.nn.Module], float]
    """model -> primary metric on English dev."""
    greater_is_better: bool
    device: torch.device
    seed: int
    fresh: frozenset[str] = frozenset()
    """Names of parameters the checkpoint did not have (the new head): trained densely, stored whole."""
    model_dir: Path | None = None
    """The base model's directory: where language SFTs and language adapters are looked for."""
    out_dir: Path | None = None
    """Where the method saves what it stores (SFT, adapter, head); None: nothing is saved."""
    source_language: str = "en"
    test_languages: tuple[str, ...] = ()
    loss: Callable | None = None
    """(model, batch) -> training loss; None: the model's own cross-entropy on the labels."""


@dataclass
class Fitted:
    method: str
    trained_params: int
    stored_params: int
    stored_bytes: int
    total_params: int
    history: list = field(default_factory=list)
    composition: str = "task only"
    """How language-specific parts combine with the task part, e.g. 'Stack(lang, task)'."""
    use_language: Callable[[str], None] = lambda language: None
    """Switch the model to a test language (swap the language adapter or SFT)."""

    def shares(self) -> dict:
        return {"trained_params": self.trained_params, "stored_params": self.stored_params,
                "stored_bytes": self.stored_bytes, "total_params": self.total_params,
                "trained_share": self.trained_params / self.total_params,
                "stored_share": self.stored_params / self.total_params}



def split_params(model: torch.nn.Module, fresh: frozenset[str] = frozenset()) -> tuple[dict, dict]:
    """(body, head): body = the pretrained encoder's parameters, named relative to `model.base_model`;
    head = everything else (the task head, and parameters new to this model such as a pooler)."""
    prefix = f"{model.base_model_prefix}."
    body, head = {}, {}
    for name, p in model.named_parameters():
        relative = name[len(prefix):] if name.startswith(prefix) else None
        if relative is None or name in fresh or relative in fresh:
            head[name] = p
        else:
            body[relative] = p
    return body, head


def prepare(model: torch.nn.Module, options) -> None:
    """Common to every method: optionally freeze the word embeddings. English training then cannot
    move the rows of words it sees away from those it does not (the target language's), and the
    largest matrix needs no optimizer state."""
    for p in model.parameters():
        p.requires_grad_(True)
    if options.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)


def save_head(head: dict, out_dir: Path | None) -> int:
    """Save the dense head (safetensors); returns its size in bytes."""
    from safetensors.torch import save_file

    tensors = {n: p.detach().cpu().contiguous() for n, p in head.items()}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(out_dir / "head.safetensors"))
    return sum(t.numel() * t.element_size() for t in tensors.values())


def language_part(model_dir: Path | None, kind: str, languages: list[str]) -> dict[str, Path] | None:
    """{language: path} of the language SFTs ('sft') or adapters ('adapter') shipped beside a model,
    when every one of `languages` has one; else None (the method then trains a task part alone)."""
    if model_dir is None:
        return None
    found = {}
    for lang in languages:
        path = (Path(model_dir) / LANGUAGE_SFT_DIR / lang / "sft.safetensors" if kind == "sft"
                else Path(model_dir) / LANGUAGE_ADAPTER_DIR / lang)
        if not path.exists():
            return None
        found[lang] = path
    return found
