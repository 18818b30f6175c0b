"""Build bookkeeping: one folder per stage, written under a temporary name, manifest last.

`<workdir>/<lang>/<stage>/manifest.json` exists only once a stage has finished: it records the
stage's inputs (config, upstream manifests), their hash, package versions and metrics. A rerun skips
a stage whose manifest matches its current inputs, redoes one whose inputs changed, and `--force`
redoes it anyway. A stage works in `<lang>/.<stage>.partial/` and is renamed into place when done,
so an interrupted build leaves nothing that looks finished and loses nothing that was. A stage
marked RESUMABLE (training) keeps its .partial folder, checkpoints included, for a rerun with the
same inputs (also a rerun of an interrupted `--force`, with or without `--force`). Before the
manifest is written, the stage's model files are checked (readable, finite, shaped as configured)
and their SHA-256 recorded. One process at a time builds a language (`pipeline.lock`).

Under `accelerate launch` (several processes) only stages marked DATA_PARALLEL may run: every process
runs the stage, the main process alone holds the lock and creates, checks and renames the folders.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from polyglot_kd.config import LanguageConfig
from polyglot_kd.core.files import inputs_hash, sha256, versions, write_json_atomic
from polyglot_kd.core.weights import check_weights, weight_files
from polyglot_kd.core.errors import ConfigError, PolyglotError, did_you_mean
from polyglot_kd.pipeline.lock import build_lock
from polyglot_kd.pipeline.stages import STAGES

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
RESOLVED_CONFIG = "config.json"
MODEL_DIR = "model"
PARTIAL_INPUTS = ".inputs_hash"  # in a .partial folder: the inputs it was started for (resumable stages)
PARTIAL_FORCED = ".forced"  # in a .partial folder: started by --force, so a rerun resumes it instead of skipping


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

    def partial_dir(self, stage: str) -> Path:
        """Where a stage works until it is renamed into place."""
        return self.root / f".{stage}.partial"

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
    if problems:  # several stages check the same corpus: each problem once
        raise ConfigError(f"the {config.code} build", list(dict.fromkeys(problems)))


def run_build(config: LanguageConfig, workdir: Path, stages: list[str], force: set[str] = frozenset()) -> dict[str, dict]:
    """Run `stages` in pipeline order; returns each stage's manifest."""
    order = [s for s in STAGES if s in stages]
    for stage in stages:
        stage_module(stage)  # unknown names fail here, before anything runs
    from polyglot_kd.engine.sharding import processes as run_processes

    processes = run_processes()
    serial = [s for s in order if not getattr(stage_module(s), "DATA_PARALLEL", False)]
    if processes.num_processes > 1 and serial:
        raise PolyglotError(f"stage(s) {', '.join(serial)} run on one process, and this is one of "
                            f"{processes.num_processes}: build them without `accelerate launch` first "
                            f"(`polyglot-kd build {config.code} --stages {','.join(serial)}`), then launch the "
                            f"data-parallel stage(s) alone")
    preflight(config, order)
    build = Build(config, language_root(workdir, config.code))
    fresh = not build.root.exists()
    main = processes.is_main_process
    with build_lock(build.root) if main else nullcontext():  # a refused build (another holds it) touches nothing
        try:
            if main:
                for stage in STAGES:  # upstream stages too: a kill mid-swap must not hide a finished one
                    _finish_interrupted_swap(build.partial_dir(stage), build.stage_dir(stage))
            processes.wait_for_everyone()
            return {stage: run_stage(build, stage, force="all" in force or stage in force) for stage in order}
        except BaseException:
            if fresh and main:  # cleaned while the lock is still held
                _remove_if_empty(build.root)
            raise


def language_root(workdir: Path, code: str) -> Path:
    """`<workdir>/<code>`, refusing a code that would lead anywhere else (`..`, a path separator)."""
    workdir = Path(workdir)
    root = workdir / code
    if not code or code in (".", "..") or Path(code).name != code or "/" in code or "\\" in code:
        raise PolyglotError(f"language code {code!r} is not a plain name; expected letters such as 'pt' or 'pt-BR'")
    if root.resolve().parent != workdir.resolve():
        raise PolyglotError(f"language code {code!r} leads outside the work directory {workdir}")
    return root


def model_identity(manifest: dict) -> str:
    """What a stage's model is: its inputs and the SHA-256 of its model files. A stage rebuilt into the
    same files keeps its identity, so results computed on it (the eval report) stay valid."""
    files = {k: v for k, v in manifest.get("files", {}).items() if k.startswith(f"{MODEL_DIR}/")}
    return inputs_hash({"inputs": manifest.get("inputs_hash"), "files": files})


def stage_path(workdir: Path, code: str, stage: str, model: bool = False) -> Path:
    """`<workdir>/<code>/<stage>[/model]`: where a stage's results are, for messages and lookups."""
    path = language_root(workdir, code) / stage
    return path / MODEL_DIR if model else path


def _remove_if_empty(root: Path) -> None:
    """A build that failed before any stage finished leaves no folder behind (only its lock file)."""
    if root.is_dir() and all(p.name == ".lock" for p in root.iterdir()):
        shutil.rmtree(root, ignore_errors=True)


def run_stage(build: Build, stage: str, force: bool = False) -> dict:
    from polyglot_kd.engine.sharding import processes as run_processes

    processes = run_processes()
    main = processes.is_main_process
    module = stage_module(stage)
    inputs = module.inputs(build)
    digest = inputs_hash(inputs)
    done = build.manifest(stage)
    partial = build.partial_dir(stage)
    written = _read(partial / MANIFEST)
    finished = written and json.loads(written).get("inputs_hash") == digest and not force  # killed before the rename
    marker = partial / PARTIAL_INPUTS
    resumable = getattr(module, "RESUMABLE", False)
    interrupted_force = resumable and (partial / PARTIAL_FORCED).is_file() and _read(marker) == digest
    resuming = resumable and _read(marker) == digest and (not force or interrupted_force)
    processes.wait_for_everyone()  # every process has read the folders before the main one changes them
    if finished:
        if main:
            _swap_into_place(partial, build.stage_dir(stage))
        processes.wait_for_everyone()
        log.info("%s/%s: finished before an interruption; put in place", build.config.code, stage)
        return build.manifest(stage)
    if done and not force and done.get("inputs_hash") == digest and not interrupted_force:
        log.info("%s/%s: already built (%s), skipping; --force %s redoes it", build.config.code, stage,
                 build.stage_dir(stage), stage)
        return done
    if done and not force:
        log.info("%s/%s: its inputs changed since it was built: rebuilding", build.config.code, stage)
    if resuming:
        log.info("%s/%s: resuming the interrupted run in %s", build.config.code, stage, partial)
    elif main:
        shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run of other inputs
        partial.mkdir(parents=True)
        if force:
            (partial / PARTIAL_FORCED).touch()
        marker.write_text(digest)
    processes.wait_for_everyone()
    log.info("%s/%s: running", build.config.code, stage)
    started = time.time()
    try:
        metrics = module.run(build, partial)
        if not main:  # the main process checks, writes the manifest and renames
            processes.wait_for_everyone()
            return build.manifest(stage)
        files = _checked_files(partial)
    except BaseException:
        if not resumable and main:  # nothing in it can be reused: leave no half-written folder behind
            shutil.rmtree(partial, ignore_errors=True)
        raise
    manifest = {
        "stage": stage,
        "language": build.config.code,
        "inputs_hash": digest,
        "inputs": inputs,
        "metrics": metrics,
        "files": files,
        "versions": versions(),
        "seconds": round(time.time() - started, 2),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (partial / RESOLVED_CONFIG).write_text(json.dumps(build.config.to_dict(), indent=2, ensure_ascii=False))
    marker.unlink()
    (partial / PARTIAL_FORCED).unlink(missing_ok=True)
    write_json_atomic(partial / MANIFEST, manifest)
    _swap_into_place(partial, build.stage_dir(stage))
    processes.wait_for_everyone()
    log.info("%s/%s: done in %.1f s -> %s", build.config.code, stage, manifest["seconds"], build.stage_dir(stage))
    return manifest


def _finish_interrupted_swap(partial: Path, final: Path) -> None:
    """A kill between the two renames of `_swap_into_place` leaves no `final`: put back the finished
    folder, the new one if its manifest was written, else the one it was replacing."""
    old = final.with_name(f".{final.name}.old")
    if final.exists() or not old.exists():
        return
    (partial if (partial / MANIFEST).is_file() else old).rename(final)
    shutil.rmtree(old, ignore_errors=True)
    log.warning("%s: restored after an interrupted swap", final)


def _swap_into_place(partial: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    partial.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _checked_files(partial: Path) -> dict[str, str]:
    """SHA-256 of every file the stage wrote, after checking the weights of its model folder."""
    if weight_files(partial / MODEL_DIR):
        check_weights(partial / MODEL_DIR)
    return {p.relative_to(partial).as_posix(): sha256(p) for p in sorted(partial.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}
