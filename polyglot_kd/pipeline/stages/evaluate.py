"""Eval stage: the teacher, outside baselines and every finished model of the build, side by side.

Writes `report.json` (all scores, sizes, the datasets' sizes, each model's encoding speed-up timed
beside the teacher) and `report.md` (the table that is also printed). Scores of a model on a dataset
are cached by the model's files and the dataset's text, so re-evaluating a build after a new stage
does not re-encode the teacher; the timing is taken afresh on every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path


from polyglot_kd.methods.stacking import model as stacking


from polyglot_kd.core.files import model_fingerprint, write_json_atomic
from polyglot_kd.pipeline.build import Build, model_identity
from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import corpora
from polyglot_kd.pipeline.checks import corpus_problems
from polyglot_kd.core.loading import load_encoder, load_model_and_tokenizer, parameter_count
from polyglot_kd.core.paths import cache_dir
from polyglot_kd.reports.files import REPORT_JSON, REPORT_MD, TASK_RESULTS_DIR
from polyglot_kd.reports.tables import render_table
from polyglot_kd.sources.teacher import resolve_teacher
from polyglot_kd.tasks import get_task, retrieval

log = logging.getLogger(__name__)


def inputs(build: Build) -> dict:
    c = build.config
    models = {stage: model_identity(build.manifest(stage) or {}) for stage in build.finished_models() if stage != "eval"}
    return {"teacher": c.teacher, "corpus": corpora.fingerprint(c), "eval": vars(c.eval), "models": models}


def preflight(config: LanguageConfig) -> list[str]:
    return corpus_problems(config)


def _dataset_key(task, dataset) -> list:
    if task.name == retrieval.NAME:  # the key retrieval scores were always cached under
        return [dataset.source, dataset.target]
    parts = dataset if isinstance(dataset, tuple) else (dataset,)
    return [task.name] + [[d.source, d.target, sorted(getattr(d, "gold", []))] for d in parts]


def _cached_score(model_path: Path, key: list, config: LanguageConfig, compute) -> dict:
    h = hashlib.sha256(model_fingerprint(model_path).encode())
    h.update(json.dumps([config.eval.prefix, config.eval.max_length, *key]).encode())
    path = cache_dir() / "scores" / f"{h.hexdigest()[:32]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    score = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, score)
    return score


def models_to_evaluate(build: Build) -> dict[str, Path]:
    """Name -> model directory: the teacher, the configured baselines, then the build's models."""
    cfg = build.config
    models = {"teacher": resolve_teacher(cfg.teacher)}
    for name in cfg.eval.baselines:
        models[name] = resolve_teacher(name)
    models.update({stage: path for stage, path in build.finished_models().items() if stage != "eval"})
    return models


def embedding_tasks(config: LanguageConfig) -> list:
    """The configured tasks that score a frozen encoder (trained tasks run with `polyglot-kd eval`)."""
    tasks = [get_task(name) for name in config.eval.tasks]
    return [t for t in tasks if not t.trained] or [get_task(retrieval.NAME)]


def evaluate_model(path: Path, config: LanguageConfig, task_sets) -> dict:
    """Scores of one model, {task name: {dataset name: metrics}}, plus its path and size;
    `task_sets` is [(task, its datasets)]."""
    if stacking.is_stacked(path):  # reads the target through its MT encoder, the source natively
        return evaluate_stacked(path, config, next((sets for t, sets in task_sets if t.name == retrieval.NAME), []))
    model = tokenizer = embed = None
    result = {"path": str(path)}
    for task, sets in task_sets:
        scores = {}
        for dataset in sets:
            def compute():
                nonlocal model, tokenizer, embed
                if model is None:  # load lazily: cached scores need no model at all
                    model, tokenizer = load_model_and_tokenizer(path)
                    embed = retrieval.embedder(model, tokenizer, config)
                return task.evaluate(model, tokenizer, dataset, config, embed=embed)
            name = dataset[-1].name if isinstance(dataset, tuple) else dataset.name
            scores[name] = _cached_score(path, _dataset_key(task, dataset), config, compute)
        result[task.name] = scores
    if model is None:
        model = load_encoder(path)
    return {"path": str(path), "params": parameter_count(model)} | result


def evaluate_stacked(path: Path, config: LanguageConfig, datasets) -> dict:
    """A stacked model (MT encoder under the backbone) on retrieval; other tasks need a plain encoder."""
    model = None
    scores = {}
    for dataset in datasets:
        def compute():
            nonlocal model
            model = model or stacking.StackedModel.load(path)
            return stacking.retrieval_scores(model, dataset, config.source, config.code, config.eval.batch_size,
                                             config.eval.max_length, config.eval.prefix)
        scores[dataset.name] = _cached_score(path, _dataset_key(get_task(retrieval.NAME), dataset), config, compute)
    model = model or stacking.StackedModel.load(path)
    return {"path": str(path), "params": model.route_parameters(), "retrieval": scores}


def run(build: Build, out: Path) -> dict:
    cfg = build.config
    task_sets = [(task, task.datasets(cfg)) for task in embedding_tasks(cfg)]
    datasets = next((sets for task, sets in task_sets if task.name == retrieval.NAME), [])
    results = {}
    models = models_to_evaluate(build)
    for name, path in models.items():
        log.info("evaluating %s (%s)", name, path)
        results[name] = evaluate_model(path, cfg, task_sets)
        if note := ((build.manifest(name) or {}).get("metrics") or {}).get("stopped_early"):
            results[name]["stopped_early"] = note  # a clock-capped model is not the model of its steps
    teacher_params = results["teacher"]["params"]
    for r in results.values():
        r["param_ratio"] = r["params"] / teacher_params
    speed = measure_speed(cfg, models, datasets)
    for name, r in results.items():
        if speed:
            r["speedup"] = speed["speedup"][name]
        if stacking.is_stacked(models[name]):
            r["speed_route"] = "target-language route (MT encoder, then the backbone)"
    merge_task_results(build.root / TASK_RESULTS_DIR, results)
    report = {
        "language": cfg.code,
        "source": cfg.source,
        "task": retrieval.NAME,
        "tasks": [t.name for t, _ in task_sets],
        "datasets": {d.name: len(d) for d in datasets},
        "speed": speed,
        "models": results,
    }
    write_json_atomic(out / REPORT_JSON, report)
    table = render_table(report)
    (out / REPORT_MD).write_text(table + "\n", encoding="utf-8")
    print(table)
    return {name: {d: s["mean"] for d, s in r.get("retrieval", {}).items()}
            | {f"mining/{d}": s["f1"] for d, s in r.get("mining", {}).items()} | {"param_ratio": r["param_ratio"]}
            | ({"speedup": r["speedup"]} if "speedup" in r else {})
            for name, r in results.items()}


def measure_speed(cfg: LanguageConfig, models: dict[str, Path], datasets) -> dict | None:
    """Every evaluated model's encoding speed beside the teacher, in one run on the first held-out
    target sentences (not cached: a timing belongs to the machine and the moment it was taken)."""
    from polyglot_kd.pipeline.speed import beside_teacher

    if not cfg.eval.speed_sentences:
        log.info("eval.speed_sentences = 0: no speed-ups measured")
        return None
    texts = list((datasets or retrieval.datasets(cfg))[0].target[:cfg.eval.speed_sentences])
    return beside_teacher(models, texts, language=cfg.code, batch_size=cfg.eval.batch_size,
                          max_length=cfg.eval.max_length, prefix=cfg.eval.prefix, rounds=cfg.eval.speed_rounds)


def merge_task_results(root: Path, models: dict) -> None:
    """Put the trained tasks' summaries (written by `polyglot-kd eval`) beside the embedding tasks:
    models[model][task][method][language] = {mean, std, ...}."""
    from polyglot_kd.tasks.results import read_summaries

    for (model, task, language, method), summary in read_summaries(root).items():
        if model in models:
            models[model].setdefault(task, {}).setdefault(method, {})[language] = summary
