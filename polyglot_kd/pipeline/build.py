"""Build bookkeeping: one folder per stage, written under a temporary name, manifest last.

`<workdir>/<lang>/<stage>/manifest.json` exists only once a stage has finished: it records the
stage's inputs (config, upstream manifests), their hash, package versions and metrics. A rerun skips
a stage whose manifest matches its current inputs, redoes one whose inputs changed, and `--force`
redoes it anyway. A stage works in `<lang>/.<stage>.partial/` and is renamed into place when done,
so an interrupted build leaves nothing that looks finished and loses nothing that was. A stage
marked RESUMABLE (training) keeps its .partial folder, checkpoints included, for a rerun with the
same inputs.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from polyglot_kd.config import LanguageConfig
from polyglot_kd.core.files import inputs_hash, versions, write_json_atomic
from polyglot_kd.core.errors import ConfigError, PolyglotError, did_you_mean
from polyglot_kd.pipeline.stages import STAGES

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
RESOLVED_CONFIG = "config.json"
MODEL_DIR = "model"
PARTIAL_INPUTS = ".inputs_hash"  # in a .partial folder: the inputs it was started for (resumable stages)


def stage_module(name: str):
    """The module implementing a stage (each exposes inputs, preflight and run)."""
    return STAGES.get(name)


@dataclass
class Build:
    """One language's build folder."""

    config: LanguageConfig
    root: Path

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def manifest(self, stage: str) -> dict | None:
        path = self.stage_dir(stage) / MANIFEST
        return json.loads(path.read_text()) if path.is_file() else None

    def model_dir(self, stage: str) -> Path | None:
        """The model a finished stage produced, or None."""
        path = self.stage_dir(stage) / MODEL_DIR
        return path if self.manifest(stage) and path.is_dir() else None

    def finished_models(self) -> dict[str, Path]:
        return {s: p for s in STAGES if (p := self.model_dir(s)) is not None}


def preflight(config: LanguageConfig, stages: list[str]) -> None:
    """Every stage's cheap checks, all problems at once, before any long work."""
    problems = []
    for stage in stages:
        problems += stage_module(stage).preflight(config)
    if problems:
        raise ConfigError(f"the {config.code} build", problems)


def run_build(config: LanguageConfig, workdir: Path, stages: list[str], force: set[str] = frozenset()) -> dict[str, dict]:
    """Run `stages` in pipeline order; returns each stage's manifest."""
    order = [s for s in STAGES if s in stages]
    for stage in stages:
        stage_module(stage)  # unknown names fail here, before anything runs
    preflight(config, order)
    build = Build(config, Path(workdir) / config.code)
    build.root.mkdir(parents=True, exist_ok=True)
    return {stage: run_stage(build, stage, force="all" in force or stage in force) for stage in order}


def run_stage(build: Build, stage: str, force: bool = False) -> dict:
    module = stage_module(stage)
    inputs = module.inputs(build)
    digest = inputs_hash(inputs)
    done = build.manifest(stage)
    if done and not force and done.get("inputs_hash") == digest:
        log.info("%s/%s: already built (%s), skipping; --force %s redoes it", build.config.code, stage,
                 build.stage_dir(stage), stage)
        return done
    if done and not force:
        log.info("%s/%s: its inputs changed since it was built: rebuilding", build.config.code, stage)
    partial = build.root / f".{stage}.partial"
    marker = partial / PARTIAL_INPUTS
    resumable = getattr(module, "RESUMABLE", False) and not force
    if resumable and marker.is_file() and marker.read_text() == digest:
        log.info("%s/%s: resuming the interrupted run in %s", build.config.code, stage, partial)
    else:
        shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run of other inputs
        partial.mkdir(parents=True)
        marker.write_text(digest)
    log.info("%s/%s: running", build.config.code, stage)
    started = time.time()
    metrics = module.run(build, partial)
    manifest = {
        "stage": stage,
        "language": build.config.code,
        "inputs_hash": digest,
        "inputs": inputs,
        "metrics": metrics,
        "versions": versions(),
        "seconds": round(time.time() - started, 2),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (partial / RESOLVED_CONFIG).write_text(json.dumps(build.config.to_dict(), indent=2, ensure_ascii=False))
    marker.unlink()
    write_json_atomic(partial / MANIFEST, manifest)
    _swap_into_place(partial, build.stage_dir(stage))
    log.info("%s/%s: done in %.1f s -> %s", build.config.code, stage, manifest["seconds"], build.stage_dir(stage))
    return manifest


def _swap_into_place(partial: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    partial.rename(final)
    shutil.rmtree(old, ignore_errors=True)
