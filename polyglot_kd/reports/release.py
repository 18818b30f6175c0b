"""Release folders: written from a model directory and a `ReleaseCard`, checked against SHA256SUMS,
copied and pushed.

The folder holds the model (safetensors, config, tokenizer) in the classic sentence-transformers
layout (modules.json, sentence_bert_config.json, 1_Pooling with mean pooling, then Normalize), so
`SentenceTransformer(folder)` and `AutoModel.from_pretrained(folder)` both load it; the model card
(README.md); any extra artifacts under `artifacts/`; and `SHA256SUMS` (the format `sha256sum -c`
reads) over every file. Everything here works on plain folders and data: which build model to
release, its artifacts and the card's contents are the pipeline's (`polyglot_kd.pipeline.release`).
"""

from __future__ import annotations

import inspect
import json
import logging
import shutil
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.files import package_version, sha256
from polyglot_kd.reports.files import CARD, CHECKSUMS
from polyglot_kd.reports.model_card import ReleaseCard, render_card

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")
# Files a hub clone or download adds beside the release; they are not part of it.
NOT_RELEASED = {".gitattributes"}


class ReleaseMismatch(PolyglotError):
    """A release folder whose files no longer match its SHA256SUMS; `files` names them."""

    def __init__(self, folder: Path, problems: dict[str, str]):
        self.files = sorted(problems)
        lines = "\n".join(f"  - {name}: {why}" for name, why in sorted(problems.items()))
        super().__init__(f"release folder {folder} does not match its {CHECKSUMS} ({len(problems)} file(s)):\n{lines}")


# ------------------------------------------------------------------------------------ writing


def write_model_folder(model_dir: Path, folder: Path, max_seq_length: int, prefix: str = "") -> None:
    """A new release folder with the model of `model_dir` in the sentence-transformers layout."""
    from transformers import AutoConfig

    if folder.exists():
        raise PolyglotError(f"release folder {folder} already exists; remove it first")
    copy_model(model_dir, folder)
    hidden_size = AutoConfig.from_pretrained(folder).hidden_size
    write_sentence_transformers_layout(folder, hidden_size, max_seq_length, prefix)


def copy_model(source: Path, folder: Path) -> None:
    """Weights (safetensors), config and tokenizer files of a model directory."""
    from polyglot_kd.core.loading import load_encoder

    folder.mkdir(parents=True, exist_ok=True)
    files = [f for f in sorted(source.iterdir()) if f.is_file() and not f.name.startswith(".")]
    for f in files:
        if not f.name.endswith(WEIGHT_SUFFIXES) or f.suffix == ".safetensors":
            shutil.copy2(f, folder / f.name)
    if not any(f.suffix == ".safetensors" for f in files):  # other weight formats are converted
        load_encoder(source).save_pretrained(folder, safe_serialization=True)


def accepts_pooling_switch(folder: Path) -> bool:
    """Whether the architecture's AutoModel class takes add_pooling_layer (BERT, XLM-R do)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    try:
        cls = MODEL_MAPPING[type(AutoConfig.from_pretrained(folder))]
    except KeyError:
        return False
    return "add_pooling_layer" in inspect.signature(cls.__init__).parameters


def write_sentence_transformers_layout(folder: Path, hidden_size: int, max_seq_length: int, prefix: str = "") -> None:
    """modules.json (Transformer -> mean Pooling -> Normalize) and the modules' configs.

    Written by hand in the classic format (`sentence_transformers.models.*`, `pooling_mode_*_tokens`)
    rather than with SentenceTransformer.save: 5.x saves module paths and keys that sentence-transformers
    2.x-4.x cannot read, while every version reads these.
    """
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(folder / "modules.json", [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
                                          for i, (path, kind) in enumerate(modules)])
    sbert = {"max_seq_length": max_seq_length, "do_lower_case": False}
    if accepts_pooling_switch(folder):
        # the [CLS] pooler is unused by mean pooling and not in the weights: don't create a random one
        sbert["model_args"] = {"add_pooling_layer": False}
    _write_json(folder / "sentence_bert_config.json", sbert)
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hidden_size, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    _write_json(folder / "config_sentence_transformers.json", {
        "__version__": {"sentence_transformers": package_version("sentence-transformers"), "transformers": package_version("transformers"),
                        "pytorch": package_version("torch")},
        # the prefix the scores were measured with becomes the default prompt
        "prompts": {"retrieval": prefix} if prefix else {},
        "default_prompt_name": "retrieval" if prefix else None,
        "similarity_fn_name": "cosine",
    })


def weights_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def finish_release(folder: Path, card: ReleaseCard) -> None:
    """The model card, then SHA256SUMS over everything in the folder: the last files written."""
    (folder / CARD).write_text(render_card(card), encoding="utf-8")
    write_checksums(folder)
    log.info("release folder %s: %d files", folder, len(released_files(folder)))


# ------------------------------------------------------------------------------------ checksums


def released_files(folder: Path) -> list[str]:
    """Relative paths of the release's files (hidden files and SHA256SUMS itself excluded)."""
    out = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p.startswith(".") for p in rel.parts) and rel.as_posix() not in NOT_RELEASED | {CHECKSUMS}:
            out.append(rel.as_posix())
    return sorted(out)


def write_checksums(folder: Path) -> Path:
    """SHA256SUMS over every file of the folder, in `sha256sum` format."""
    lines = [f"{sha256(folder / rel)}  {rel}" for rel in released_files(folder)]
    path = folder / CHECKSUMS
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def verify_release(folder: str | Path) -> int:
    """Check every file against SHA256SUMS; returns the number of files checked.

    Raises ReleaseMismatch naming each file that was modified, is missing or is not listed.
    """
    folder = Path(folder)
    sums = folder / CHECKSUMS
    if not folder.is_dir():
        raise PolyglotError(f"release folder {folder} does not exist")
    if not sums.is_file():
        raise ReleaseMismatch(folder, {CHECKSUMS: "missing, so nothing can be checked (not a release folder, or a partial copy)"})
    expected = {}
    for i, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not line.strip():
            continue
        if not sep or len(digest) != 64 or Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ReleaseMismatch(folder, {CHECKSUMS: f"line {i} is not '<sha256>  <relative path>': {line[:80]!r}"})
        expected[rel] = digest
    problems = {}
    for rel, digest in expected.items():
        path = folder / rel
        if not path.is_file():
            problems[rel] = "missing"
        elif (actual := sha256(path)) != digest:
            problems[rel] = f"modified (SHA-256 {actual[:12]}..., expected {digest[:12]}...)"
    for rel in sorted(set(released_files(folder)) - expected.keys()):
        problems[rel] = f"extra file, not listed in {CHECKSUMS}"
    if problems:
        raise ReleaseMismatch(folder, problems)
    return len(expected)


# ------------------------------------------------------------------------------------ after release


def copy_release(folder: Path, out: Path) -> Path:
    """Copy a verified release to `out` (replacing an earlier release there, never other files)."""
    verify_release(folder)
    out = Path(out)
    if out.exists():
        if not (out / CHECKSUMS).is_file() and any(out.iterdir()):
            raise PolyglotError(f"--out {out} exists and is not an earlier release (no {CHECKSUMS}); choose an empty or new folder")
        shutil.rmtree(out)
    shutil.copytree(folder, out)
    verify_release(out)
    return out


def hub_token() -> str:
    """The hub token (HF_TOKEN, or a saved `huggingface-cli login`); a clear error, before any network
    call, when there is none."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise PolyglotError("--push needs a Hugging Face token: set HF_TOKEN, or run `huggingface-cli login` once; "
                            "the release folder itself is ready without it")
    return token


def push_release(folder: Path, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Upload a verified release folder to a hub model repository; returns the commit URL."""
    from huggingface_hub import HfApi

    verify_release(folder)
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                                   commit_message=f"polyglot-kd release {Path(folder).name}")
    except Exception as exc:  # offline, no token, no rights: all the same to the user
        raise PolyglotError(f"could not push {folder} to hub repository {repo_id!r}: {type(exc).__name__}: {exc}") from exc
    return str(getattr(commit, "commit_url", commit))


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
