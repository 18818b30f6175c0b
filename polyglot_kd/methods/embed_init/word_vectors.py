"""Multilingual word vectors for embedding initialisation: read, check, build, and measure alignment.

Formats: fastText `.vec` text (a "count dim" header line, then "word v1 ... vd"), fastText `.bin`
(read with the `fasttext` package) and ColexNet+-style text, whose keys are `lang:word` (a header
line is optional). Keys of the form `xx:word` (or `xxx:word`) are split into language and word; keys
without one are taken as words of every language.

The offline default is built here with fastText from the parallel training verses: a pseudo-
bilingual corpus of each verse pair's words merged and shuffled (Vulić & Moens), plus the verses
themselves, every word keyed `lang:word`, so English and the target land in one space. Its quality is
measured by bilingual lexicon induction (precision@1) against FreeDict pairs, which were never used
for training (held out by construction); identical-string pairs are left out of that test.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.paths import cache_dir

log = logging.getLogger(__name__)
# fastText has no seed: with several threads the order of their updates, hence the vectors, differs
# from run to run. One thread makes a build reproducible.
FASTTEXT_THREADS = 1

ANY_LANG = "*"
FASTTEXT_BIN_MAGIC = 793712314  # first int32 of a fastText .bin file
_KEY = re.compile(r"^([a-z]{2,3}):(.+)$")


@dataclass
class WordVectors:
    """Words (with their language, ANY_LANG where the file does not say) and one row each."""

    langs: list[str]
    words: list[str]
    matrix: np.ndarray  # (n, dim) float32

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def of(self, lang: str) -> tuple[list[str], np.ndarray]:
        idx = [i for i, l in enumerate(self.langs) if l in (lang, ANY_LANG)]
        return [self.words[i] for i in idx], self.matrix[idx]


def resolve_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    return "bin" if path.suffix == ".bin" else "vec"


def check_file(path: str, fmt: str = "auto", expected_dim: int = 0, lines: int = 200) -> list[str]:
    """Cheap checks of a vectors file (its head only): exists, the format, one dimension throughout,
    the expected dimension. Returns problems, for a preflight."""
    p = Path(path)
    if not p.is_file():
        return [f"embed_init.vectors: no file at {path}"]
    fmt = resolve_format(p, fmt)
    if fmt == "bin":
        with open(p, "rb") as f:
            magic = int.from_bytes(f.read(4), "little")
        if magic != FASTTEXT_BIN_MAGIC:
            return [f"embed_init.vectors: {path} is not a fastText .bin model (first 4 bytes {magic}, expected "
                    f"{FASTTEXT_BIN_MAGIC}); for a text file set vectors_format = 'vec' or 'colexnet'"]
        return []
    try:
        head = _head(p, lines)
    except UnicodeDecodeError:
        return [f"embed_init.vectors: {path} is not UTF-8 text ('{fmt}' format: 'word v1 ... vd' per line); "
                "a binary fastText model needs vectors_format = 'bin' or a .bin name"]
    header_dim, rows = _split_header(head)
    if not rows:
        return [f"embed_init.vectors: {path} holds no vectors"]
    problems = []
    dims = set()
    for number, line in rows[:lines]:
        parts = line.rstrip().split(" ")
        try:
            [float(x) for x in parts[1:]]
        except ValueError:
            problems.append(f"embed_init.vectors: {path} line {number}: expected 'word v1 ... vd' with numbers, "
                            f"got {line[:60]!r}")
            break
        dims.add(len(parts) - 1)
    if problems:
        return problems
    if len(dims) > 1 or (header_dim and dims != {header_dim}):
        return [f"embed_init.vectors: {path} has rows of {sorted(dims)} values"
                f"{f' but its header says {header_dim}' if header_dim else ''}; expected one dimension"]
    dim = dims.pop()
    if expected_dim and dim != expected_dim:
        return [f"embed_init.vectors: {path} holds {dim}-dimensional vectors, expected embed_init.vector_dim = "
                f"{expected_dim} (set vector_dim = {dim}, or 0 to take the file's)"]
    return []


def _head(path: Path, lines: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            out.append(line)
            if len(out) > lines:
                break
    return out


def _split_header(lines: list[str]) -> tuple[int, list[tuple[int, str]]]:
    """(dimension in the header or 0, numbered data lines)."""
    numbered = [(i + 1, l) for i, l in enumerate(lines) if l.strip()]
    if numbered:
        first = numbered[0][1].split()
        if len(first) == 2 and all(x.isdigit() for x in first):
            return int(first[1]), numbered[1:]
    return 0, numbered


def load(path: str, fmt: str = "auto") -> WordVectors:
    p = Path(path)
    fmt = resolve_format(p, fmt)
    if fmt == "bin":
        import fasttext

        model = fasttext.load_model(str(p))
        keys = list(model.words)
        matrix = np.stack([model.get_word_vector(w) for w in keys]).astype(np.float32)
    else:
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            lines = f.read().splitlines()
        _, rows = _split_header(lines)
        keys, values = [], []
        for number, line in rows:
            word, _, rest = line.rstrip().partition(" ")
            keys.append(word)
            values.append(np.array(rest.split(" "), dtype=np.float32))
        if len({len(v) for v in values}) > 1:
            raise PolyglotError(f"{path}: rows of different lengths {sorted({len(v) for v in values})}; expected one dimension")
        matrix = np.stack(values) if values else np.zeros((0, 0), np.float32)
    langs, words = [], []
    for key in keys:
        m = _KEY.match(key)
        langs.append(m.group(1) if m else ANY_LANG)
        words.append(m.group(2) if m else key)
    return WordVectors(langs, words, matrix)


def save_vec(vectors: WordVectors, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{len(vectors.words)} {vectors.dim}\n")
        for lang, word, row in zip(vectors.langs, vectors.words, vectors.matrix):
            key = word if lang == ANY_LANG else f"{lang}:{word}"
            f.write(key + " " + " ".join(f"{x:.5f}" for x in row) + "\n")
    tmp.rename(path)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+(?:['’]\w+)*", text.lower())


def pseudo_bilingual(pairs: list[tuple[str, str]], langs: tuple[str, str], seed: int = 0) -> list[str]:
    """Each verse pair as one line of both sides' keyed words, shuffled, plus each side's verse."""
    rng = random.Random(seed)
    lines = []
    for a, b in pairs:
        wa = [f"{langs[0]}:{w}" for w in _words(a)]
        wb = [f"{langs[1]}:{w}" for w in _words(b)]
        merged = wa + wb
        rng.shuffle(merged)
        lines += [" ".join(merged), " ".join(wa), " ".join(wb)]
    return lines


def build_default(source: list[str], target: list[str], langs: tuple[str, str], dim: int, epochs: int,
                  min_count: int, seed: int = 0) -> Path:
    """fastText vectors of both languages in one space from parallel verses (cached by their inputs)."""
    key = hashlib.sha256(repr((source, target, langs, dim, epochs, min_count, seed, "v2")).encode()).hexdigest()[:24]
    path = cache_dir() / "vectors" / f"{langs[0]}-{langs[1]}-{key}.vec"
    if path.is_file():
        return path
    import fasttext

    path.parent.mkdir(parents=True, exist_ok=True)
    corpus = path.with_suffix(".txt")
    corpus.write_text("\n".join(pseudo_bilingual(list(zip(source, target)), langs, seed)) + "\n", encoding="utf-8")
    log.info("training %d-d fastText vectors for %s+%s on %d parallel verses", dim, *langs, len(source))
    model = fasttext.train_unsupervised(str(corpus), model="skipgram", dim=dim, epoch=epochs, minCount=min_count,
                                        minn=3, maxn=5, ws=5, thread=FASTTEXT_THREADS, verbose=0)
    corpus.unlink()
    words = list(model.words)
    vectors = WordVectors([], [], np.stack([model.get_word_vector(w) for w in words]).astype(np.float32))
    for w in words:
        m = _KEY.match(w)
        vectors.langs.append(m.group(1) if m else ANY_LANG)
        vectors.words.append(m.group(2) if m else w)
    save_vec(vectors, path)
    return path


# ---------------------------------------------------------------- alignment quality

ISO3 = {"sw": "swh", "tr": "tur", "pt": "por", "de": "deu", "fr": "fra", "es": "spa", "ru": "rus", "ar": "ara",
        "hi": "hin", "it": "ita", "pl": "pol", "id": "ind", "uk": "ukr", "vi": "vie"}


def freedict_pairs(lang: str) -> dict[str, set[str]]:
    """English word -> its one-word translations, from Debian's dict-freedict-eng-<iso3>."""
    from polyglot_kd.sources.packages import Package, fetch

    iso3 = ISO3.get(lang)
    if iso3 is None:
        raise PolyglotError(f"no FreeDict English dictionary known for {lang!r}; set embed_init.bli_pairs = ''")
    root = fetch(Package("debian", f"dict-freedict-eng-{iso3}"))
    files = sorted(root.rglob("*.dict.dz"))
    if not files:
        raise PolyglotError(f"dict-freedict-eng-{iso3} holds no .dict.dz file (looked in {root})")
    text = gzip.open(files[0], "rt", encoding="utf-8", errors="replace").read()
    pairs: dict[str, set[str]] = {}
    head = None
    for line in text.splitlines():
        # an entry starts "word /phonetics/ <pos>"; its translations follow, numbered "1. x, y" or plain
        m = re.match(r"^([A-Za-z]+) /[^/]*/(?:\s*<[^>]*>)?\s*$", line)
        if m:
            head = m.group(1).lower()
            continue
        if head is None or not line.strip():
            continue
        body = re.sub(r"^\s*\d+\.\s+", "", line)
        body = re.sub(r"\([^)]*\)|<[^>]*>", " ", body)
        for piece in re.split(r"[,;]", body):
            words = _words(piece)
            if len(words) == 1:
                pairs.setdefault(head, set()).add(words[0])
    return pairs


def bli_precision(vectors: WordVectors, source_lang: str, target_lang: str, pairs: dict[str, set[str]]) -> dict:
    """Precision@1 of nearest-neighbour translation source -> target over gold pairs whose words have
    vectors; identical-string pairs are excluded (trivially right for a shared string)."""
    s_words, s_mat = vectors.of(source_lang)
    t_words, t_mat = vectors.of(target_lang)
    s_index = {w: i for i, w in enumerate(s_words)}
    t_set = set(t_words)
    tests = [(w, gold - {w}) for w, gold in pairs.items() if w in s_index and (gold - {w}) & t_set]
    if not tests or not len(t_words):
        return {"pairs": 0, "precision_at_1": None}
    t_norm = t_mat / np.maximum(np.linalg.norm(t_mat, axis=1, keepdims=True), 1e-9)
    q = s_mat[[s_index[w] for w, _ in tests]]
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-9)
    best = (q @ t_norm.T).argmax(1)
    hits = sum(t_words[b] in gold for b, (_, gold) in zip(best, tests))
    return {"pairs": len(tests), "precision_at_1": hits / len(tests)}
