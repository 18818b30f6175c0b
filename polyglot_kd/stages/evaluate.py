"""Eval stage: the teacher, outside baselines and every finished model of the build, side by side.

Writes `report.json` (all scores, sizes, the datasets' sizes) and `report.md` (the table that is also
printed). Scores of a model on a dataset are cached by the model's files and the dataset's text, so
re-evaluating a build after a new stage does not re-encode the teacher.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path


from polyglot_kd import stacking, trimming
from polyglot_kd.build import Build, write_json_atomic
from polyglot_kd.config import LanguageConfig
from polyglot_kd.data.checks import corpus_problems
from polyglot_kd.modeling import load_encoder, load_model_and_tokenizer
from polyglot_kd.paths import cache_dir
from polyglot_kd.sources.teacher import resolve_teacher
from polyglot_kd.tasks import retrieval

log = logging.getLogger(__name__)

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def inputs(build: Build) -> dict:
    c = build.config
    models = {stage: (build.manifest(stage) or {}).get("inputs_hash") for stage in build.finished_models() if stage != "eval"}
    return {"teacher": c.teacher, "corpus": vars(c.corpus), "eval": vars(c.eval), "models": models}


def preflight(config: LanguageConfig) -> list[str]:
    return corpus_problems(config)


def model_fingerprint(path: Path) -> str:
    """Changes whenever the model's files change (names, sizes, modification times)."""
    h = hashlib.sha256(str(path.resolve()).encode())
    for f in sorted(path.iterdir()):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _cached_score(model_path: Path, dataset, config: LanguageConfig, compute) -> dict:
    h = hashlib.sha256(model_fingerprint(model_path).encode())
    h.update(json.dumps([config.eval.prefix, config.eval.max_length, dataset.source, dataset.target]).encode())
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


def evaluate_model(path: Path, config: LanguageConfig, datasets) -> dict:
    if stacking.is_stacked(path):  # reads the target through its MT encoder, the source natively
        return evaluate_stacked(path, config, datasets)
    model = tokenizer = None
    scores = {}
    for dataset in datasets:
        def compute():
            nonlocal model, tokenizer
            if model is None:  # load lazily: cached scores need no model at all
                model, tokenizer = load_model_and_tokenizer(path)
            return retrieval.evaluate(model, tokenizer, dataset, config)
        scores[dataset.name] = _cached_score(path, dataset, config, compute)
    if model is None:
        model = load_encoder(path)
    return {"path": str(path), "params": trimming.parameter_count(model), "retrieval": scores}


def evaluate_stacked(path: Path, config: LanguageConfig, datasets) -> dict:
    model = None
    scores = {}
    for dataset in datasets:
        def compute():
            nonlocal model
            model = model or stacking.StackedModel.load(path)
            return stacking.retrieval_scores(model, dataset, config.source, config.code, config.eval.batch_size,
                                             config.eval.max_length, config.eval.prefix)
        scores[dataset.name] = _cached_score(path, dataset, config, compute)
    model = model or stacking.StackedModel.load(path)
    return {"path": str(path), "params": model.route_parameters(), "retrieval": scores}


def run(build: Build, out: Path) -> dict:
    cfg = build.config
    datasets = retrieval.datasets(cfg)
    results = {}
    for name, path in models_to_evaluate(build).items():
        log.info("evaluating %s (%s)", name, path)
        results[name] = evaluate_model(path, cfg, datasets)
    teacher_params = results["teacher"]["params"]
    for r in results.values():
        r["param_ratio"] = r["params"] / teacher_params
    report = {
        "language": cfg.code,
        "source": cfg.source,
        "task": retrieval.NAME,
        "datasets": {d.name: len(d) for d in datasets},
        "models": results,
    }
    write_json_atomic(out / REPORT_JSON, report)
    table = render_table(report)
    (out / REPORT_MD).write_text(table + "\n", encoding="utf-8")
    print(table)
    return {name: {d: s["mean"] for d, s in r["retrieval"].items()} | {"param_ratio": r["param_ratio"]}
            for name, r in results.items()}


def render_table(report: dict) -> str:
    """Markdown table: size and both-direction retrieval accuracy per model, with the change vs the teacher."""
    src, tgt = report["source"], report["language"]
    sets = list(report["datasets"])
    head = ["model", "params", "x teacher"]
    for d in sets:
        head += [f"{d} {src}->{tgt}", f"{d} {tgt}->{src}", f"{d} mean", "vs teacher"]
    lines = [f"Retrieval accuracy (%), {src}<->{tgt}; " + ", ".join(f"{d}: {n} pairs" for d, n in report["datasets"].items()),
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    teacher = report["models"]["teacher"]["retrieval"]
    for name, r in report["models"].items():
        row = [name, f"{r['params'] / 1e6:.2f}M", f"{r['param_ratio']:.3f}"]
        for d in sets:
            s = r["retrieval"][d]
            row += [f"{100 * s['src2tgt']:.1f}", f"{100 * s['tgt2src']:.1f}", f"{100 * s['mean']:.1f}",
                    f"{100 * (s['mean'] - teacher[d]['mean']):+.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
