"""Release stage: the evaluated model as a folder ready to publish (the build side in
polyglot_kd/pipeline/release.py, the folder in polyglot_kd/reports/release.py).

Writes `builds/<lang>/release/<name>/` (weights, tokenizer, sentence-transformers layout, model card,
artifacts, SHA256SUMS). Refuses a build whose model the eval stage has not scored, naming the stage.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from polyglot_kd.pipeline import release
from polyglot_kd.pipeline.build import Build
from polyglot_kd.config import LanguageConfig
from polyglot_kd.reports.release import released_files


def inputs(build: Build) -> dict:
    cfg = build.config
    stage = release.choose_model(build, cfg.release.model)  # fails here, before any work, if unevaluated
    model, done = build.manifest(stage), build.manifest("eval")
    return {"teacher": cfg.teacher, "model": stage, "model_inputs_hash": model["inputs_hash"],
            "model_finished": model["finished"], "eval_inputs_hash": done["inputs_hash"], "eval_finished": done["finished"],
            "release": vars(cfg.release), "eval": {"max_length": cfg.eval.max_length, "prefix": cfg.eval.prefix,
                                                   "batch_size": cfg.eval.batch_size}}


def preflight(config: LanguageConfig) -> list[str]:
    return []  # release.* settings are checked with the config; the build's state is checked in inputs()


def run(build: Build, out: Path) -> dict:
    cfg = build.config
    stage = release.choose_model(build, cfg.release.model)
    folder = out / release.release_name(cfg, stage)
    card = release.make_release(build, stage, folder)
    speed = asdict(card.speed) | {"speedup": card.speed.speedup} if card.speed else None
    return {
        "model": stage,
        "folder": folder.name,
        "params": card.params,
        "param_ratio": card.params / card.teacher_params,
        "vocab_size": card.vocab_size,
        "weights_bytes": card.weights_bytes,
        "scores": {s.dataset: s.mean for s in card.scores},
        "speed": speed,
        "artifacts": card.artifacts,
        "int8": card.int8,
        "static": card.static,
        "files": len(released_files(folder)),
    }


def release_folder(build: Build) -> Path | None:
    """The finished release folder of a build, or None."""
    done = build.manifest("release")
    return build.stage_dir("release") / done["metrics"]["folder"] if done else None
