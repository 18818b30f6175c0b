"""Checks of a model folder's weight files: readable, finite, shaped as its config says.

Run before a stage declares itself finished and when a cached teacher is loaded, so a truncated or
overwritten file is caught where it happened, not as NaN scores three stages later.
"""

from __future__ import annotations

import json
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError


def weight_files(model_dir: Path) -> list[Path]:
    return sorted(Path(model_dir).glob("*.safetensors"))


def non_finite_count(tensor) -> int:
    """How many NaN/inf values a floating-point tensor holds (0 for other dtypes)."""
    import torch

    return int((~torch.isfinite(tensor)).sum()) if tensor.is_floating_point() else 0


def check_weights(model_dir: Path) -> None:
    """Raise a PolyglotError naming the file and tensor when weights are unreadable, hold NaN/inf, or
    the word embedding disagrees with config.json's vocab_size / hidden_size."""
    from safetensors import SafetensorError, safe_open

    model_dir = Path(model_dir)
    files = weight_files(model_dir)
    if not files:
        raise PolyglotError(f"{model_dir}: no *.safetensors weights file")
    config = _config(model_dir)
    for path in files:
        try:
            with safe_open(str(path), framework="pt") as f:
                for name in f.keys():
                    tensor = f.get_tensor(name)
                    if bad := non_finite_count(tensor):
                        raise PolyglotError(f"{path}: tensor {name!r} holds {bad:,} NaN/inf values; the file is "
                                            "corrupt (rebuild it with --force)")
                    _check_shape(path, name, tuple(tensor.shape), config)
        except (SafetensorError, OSError, RuntimeError) as exc:
            raise PolyglotError(f"{path}: cannot read the weights ({type(exc).__name__}: {exc}); the file is "
                                "truncated or corrupt (rebuild it with --force)") from None


def _config(model_dir: Path) -> dict:
    path = model_dir / "config.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError as exc:
        raise PolyglotError(f"{path}: not valid JSON ({exc})") from None


def _check_shape(path: Path, name: str, shape: tuple[int, ...], config: dict) -> None:
    if not name.endswith("word_embeddings.weight") or "vocab_size" not in config:
        return
    expected_rows = config["vocab_size"]
    width = config.get("embedding_rank") or config.get("hidden_size")  # a factorised embedding is vocab x rank
    if shape[0] != expected_rows or (width and shape[-1] != width):
        raise PolyglotError(f"{path}: {name} has shape {list(shape)}, but config.json says vocab_size "
                            f"{expected_rows} and width {width}")
