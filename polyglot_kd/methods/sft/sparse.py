"""Sparse fine-tunings (SFTs): a model's change stored as (flat indices, values) per parameter.

Names are relative to the encoder body (`model.base_model`), so a language SFT and a task SFT made
on models with different heads apply to the same body. Applying adds the values at the indices,
reverting subtracts them, and two SFTs compose by addition (`a + b`, or applying one after the
other). `applied(...)` keeps the overwritten values and restores them bit for bit on exit, which a
subtraction cannot promise in floating point. Stored as safetensors: `<name>::indices` (int32 when
the parameter is small enough, else int64) and `<name>::values`.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from polyglot_kd.core.errors import PolyglotError

FORMAT = "polyglot-kd-sft/1"


class SparseDiff:
    """Per-parameter sparse differences: {name: (flat indices, values)} plus each parameter's shape."""

    def __init__(self, entries: dict[str, tuple[torch.Tensor, torch.Tensor]], shapes: dict[str, tuple[int, ...]]):
        self.entries = entries
        self.shapes = {k: tuple(v) for k, v in shapes.items()}

    # ------------------------------------------------------------------ making

    @classmethod
    def from_masks(cls, tuned: dict[str, torch.Tensor], base: dict[str, torch.Tensor],
                   masks: dict[str, torch.Tensor]) -> SparseDiff:
        """tuned - base at the True positions of each mask (every masked position is kept, even
        where the difference happens to be zero, so the stored size is the mask's)."""
        entries, shapes = {}, {}
        for name, mask in masks.items():
            idx = mask.reshape(-1).nonzero().squeeze(1)
            delta = (tuned[name].detach().reshape(-1) - base[name].detach().reshape(-1))[idx]
            entries[name] = (_index_dtype(idx, mask.numel()), delta.float().cpu())
            shapes[name] = tuple(mask.shape)
        return cls(entries, shapes)

    @classmethod
    def between(cls, tuned: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> SparseDiff:
        """Every position where tuned and base differ."""
        return cls.from_masks(tuned, base, {n: tuned[n].detach() != base[n].detach() for n in base})

    # ------------------------------------------------------------------ using

    @property
    def num_values(self) -> int:
        return sum(v.numel() for _, v in self.entries.values())

    @property
    def nbytes(self) -> int:
        return sum(i.numel() * i.element_size() + v.numel() * v.element_size() for i, v in self.entries.values())

    def _params(self, module: torch.nn.Module) -> dict[str, torch.Tensor]:
        params = dict(module.named_parameters())
        for name, shape in self.shapes.items():
            if name not in params:
                raise PolyglotError(f"this sparse fine-tuning changes {name!r}, which the model does not have "
                                    f"(it was made for another architecture?)")
            if tuple(params[name].shape) != shape:
                raise PolyglotError(f"this sparse fine-tuning expects {name} of shape {shape}, the model has "
                                    f"{tuple(params[name].shape)} (a model with another vocabulary?)")
        return params

    @torch.no_grad()
    def apply(self, module: torch.nn.Module, sign: float = 1.0) -> None:
        """Add the differences to `module`'s parameters in place (sign=-1 subtracts them)."""
        params = self._params(module)
        for name, (idx, values) in self.entries.items():
            p = params[name]
            flat = p.data.view(-1)
            flat.index_add_(0, idx.to(p.device, torch.long), values.to(p.device, p.dtype), alpha=sign)

    def revert(self, module: torch.nn.Module) -> None:
        """Subtract the differences again (exact up to floating-point rounding; `applied` is exact)."""
        self.apply(module, sign=-1.0)

    @contextlib.contextmanager
    def applied(self, module: torch.nn.Module):
        """Apply for the duration of a block, then put back the exact previous values."""
        params = self._params(module)
        stash = {n: params[n].data.view(-1)[idx.to(params[n].device, torch.long)].clone()
                 for n, (idx, _) in self.entries.items()}
        self.apply(module)
        try:
            yield module
        finally:
            with torch.no_grad():
                for name, (idx, _) in self.entries.items():
                    params[name].data.view(-1)[idx.to(params[name].device, torch.long)] = stash[name]

    def __add__(self, other: SparseDiff) -> SparseDiff:
        """One SFT equal to applying both: union of positions, values summed where both change one."""
        entries, shapes = {}, dict(self.shapes)
        for name in set(self.entries) | set(other.entries):
            if name in self.shapes and name in other.shapes and self.shapes[name] != other.shapes[name]:
                raise PolyglotError(f"cannot compose sparse fine-tunings: {name} has shapes {self.shapes[name]} "
                                    f"and {other.shapes[name]}")
            shapes[name] = self.shapes.get(name) or other.shapes[name]
            parts = [e[name] for e in (self.entries, other.entries) if name in e]
            idx = torch.cat([p[0].long() for p in parts])
            val = torch.cat([p[1] for p in parts])
            unique, inverse = torch.unique(idx, return_inverse=True)
            summed = torch.zeros(len(unique), dtype=val.dtype).index_add_(0, inverse, val)
            numel = int(torch.tensor(shapes[name]).prod())
            entries[name] = (_index_dtype(unique, numel), summed)
        return SparseDiff(entries, shapes)

    # ------------------------------------------------------------------ files

    def save(self, path: Path, metadata: dict | None = None) -> Path:
        tensors = {}
        for name, (idx, values) in self.entries.items():
            tensors[f"{name}::indices"] = idx.contiguous()
            tensors[f"{name}::values"] = values.contiguous()
        meta = {"format": FORMAT, "shapes": json.dumps(self.shapes), "info": json.dumps(metadata or {})}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path: Path) -> SparseDiff:
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise PolyglotError(f"no sparse fine-tuning at {path}")
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise PolyglotError(f"{path} is not a polyglot-kd sparse fine-tuning (format {meta.get('format')!r}, "
                                f"expected {FORMAT!r})")
        tensors = load_file(str(path))
        shapes = {k: tuple(v) for k, v in json.loads(meta["shapes"]).items()}
        entries = {n: (tensors[f"{n}::indices"], tensors[f"{n}::values"]) for n in shapes}
        return cls(entries, shapes)


def _index_dtype(idx: torch.Tensor, numel: int) -> torch.Tensor:
    return idx.to(torch.int32 if numel < 2**31 else torch.int64).cpu()
