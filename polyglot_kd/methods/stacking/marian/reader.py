"""Reader for Marian's binary model files (``*.bin``).

Layout (little-endian), as Marian's ``io::binary`` writes it:

1. ``u64`` format version (1), ``u64`` item count n;
2. n headers of four ``u64``: name length (with its NUL), type, shape length, data length;
3. the n names, NUL-terminated; then every shape as ``i32`` dimensions;
4. ``u64`` alignment pad length and that many bytes; then each item's data, one after another.

Types are Marian's ``TypeClass`` codes: float32 (0x404), float16 (0x402), int8 (0x101, used for the
``special:model.yml`` text) and the intgemm types 0x4101 (int8) / 0x4102 (int16). An intgemm item holds
``rows * cols`` integers followed by a ``f32`` quantisation multiplier (value = q / multiplier); every
weight but ``Wemb`` is stored transposed, (cols, rows), and is turned back into Marian's (rows, cols)
here so that all weights come out in one layout. Names ending ``_QuantMultA`` (activation scales for
8-bit inference) are not weights.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from polyglot_kd.core.errors import PolyglotError, did_you_mean


BINARY_VERSION = 1
FLOAT32, FLOAT16, INT8, INTGEMM8, INTGEMM16 = 0x404, 0x402, 0x101, 0x4101, 0x4102
_ITEM_BYTES = {FLOAT32: 4, FLOAT16: 2, INT8: 1, INTGEMM8: 1, INTGEMM16: 2}
_NUMPY = {FLOAT32: "<f4", FLOAT16: "<f2", INT8: "i1", INTGEMM8: "i1", INTGEMM16: "<i2"}
TYPE_NAMES = {FLOAT32: "float32", FLOAT16: "float16", INT8: "int8", INTGEMM8: "intgemm8", INTGEMM16: "intgemm16"}
CONFIG_ITEM = "special:model.yml"


@dataclass(frozen=True)
class MarianItem:
    """One entry of the file: where its data lies and how to read it."""

    name: str
    type: int
    shape: tuple[int, ...]
    offset: int  # from the start of the file
    nbytes: int

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def is_weight(self) -> bool:
        return not (self.name.startswith("special:") or self.name.endswith("_QuantMultA"))


class MarianFile:
    """A parsed Marian binary: the item directory, the model's YAML config and dequantised tensors."""

    def __init__(self, path: Path, items: dict[str, MarianItem], data: bytes):
        self.path = path
        self.items = items
        self._data = data

    @property
    def config(self) -> dict:
        """The training options saved in ``special:model.yml`` ({} where there are none)."""
        if CONFIG_ITEM not in self.items:
            return {}
        item = self.items[CONFIG_ITEM]
        text = self._data[item.offset:item.offset + item.nbytes].split(b"\0", 1)[0].decode("utf-8")
        return yaml.safe_load(text) or {}

    def weight_names(self) -> list[str]:
        return [n for n, item in self.items.items() if item.is_weight]

    def tensor(self, name: str) -> np.ndarray:
        """Float32 values of an item in Marian's logical (rows, cols) layout."""
        if name not in self.items:
            raise PolyglotError(f"{self.path}: no tensor {name!r}{did_you_mean(name, self.items)}")
        return dequantise(self.items[name], self._data, self.path)

    def tensors(self) -> dict[str, np.ndarray]:
        return {name: self.tensor(name) for name in self.weight_names()}


def dequantise(item: MarianItem, data: bytes, path: Path | str = "<bytes>") -> np.ndarray:
    """Decode one item's bytes into float32 (intgemm: q / multiplier, transposed back except Wemb)."""
    if item.type not in _ITEM_BYTES:
        raise PolyglotError(f"{path}: tensor {item.name!r} has type {item.type:#x}, which this reader does not know; "
                            f"known: {', '.join(f'{t:#x} ({n})' for t, n in TYPE_NAMES.items())}")
    n = item.elements
    quantised = item.type in (INTGEMM8, INTGEMM16)
    needed = n * _ITEM_BYTES[item.type] + (4 if quantised else 0)
    if item.nbytes < needed:
        raise PolyglotError(f"{path}: tensor {item.name!r} {item.shape} of type {TYPE_NAMES[item.type]} needs "
                            f"{needed} bytes but its entry holds {item.nbytes}")
    raw = data[item.offset:item.offset + needed]
    values = np.frombuffer(raw, dtype=_NUMPY[item.type], count=n).astype(np.float32)
    if not quantised:
        return values.reshape(item.shape)
    (multiplier,) = struct.unpack_from("<f", raw, n * _ITEM_BYTES[item.type])
    if not np.isfinite(multiplier) or multiplier == 0:
        raise PolyglotError(f"{path}: tensor {item.name!r} has an invalid quantisation multiplier {multiplier}")
    values = values / np.float32(multiplier)
    if len(item.shape) == 2 and "Wemb" not in item.name:  # stored (cols, rows): intgemm's B-matrix layout
        return np.ascontiguousarray(values.reshape(item.shape[1], item.shape[0]).T)
    return values.reshape(item.shape)


def read_marian(path: str | Path) -> MarianFile:
    """Parse a Marian binary model file, checking every offset against the file's size."""
    path = Path(path)
    data = path.read_bytes()
    size = len(data)

    def need(end: int, what: str) -> None:
        if end > size:
            raise PolyglotError(f"{path}: truncated Marian file: {what} ends at byte {end}, the file has {size} bytes")

    need(16, "the header")
    version, count = struct.unpack_from("<QQ", data, 0)
    if version != BINARY_VERSION:
        raise PolyglotError(f"{path}: not a Marian binary model (format version {version}, expected {BINARY_VERSION}); "
                            "is it a .npz model or another format?")
    need(16 + 32 * count, f"the {count} item headers")
    headers = [struct.unpack_from("<4Q", data, 16 + 32 * i) for i in range(count)]
    pos = 16 + 32 * count
    names = []
    for name_len, *_ in headers:
        need(pos + name_len, "the item names")
        names.append(data[pos:pos + name_len].split(b"\0", 1)[0].decode("utf-8", errors="replace"))
        pos += name_len
    shapes = []
    for _, _, shape_len, _ in headers:
        need(pos + 4 * shape_len, "the item shapes")
        shapes.append(struct.unpack_from(f"<{shape_len}i", data, pos))
        pos += 4 * shape_len
    need(pos + 8, "the alignment pad length")
    (pad,) = struct.unpack_from("<Q", data, pos)
    pos += 8 + pad
    items = {}
    for name, (_, type_, _, nbytes), shape in zip(names, headers, shapes):
        need(pos + nbytes, f"the data of {name!r}")
        if any(d < 0 for d in shape):
            raise PolyglotError(f"{path}: tensor {name!r} has a negative dimension {shape}")
        items[name] = MarianItem(name, type_, tuple(shape), pos, nbytes)
        pos += nbytes
    return MarianFile(path, items, data)
