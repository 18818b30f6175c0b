"""Zero-shot transfer runs: train a task on English with one method and several seeds, select on
English dev, test every target language; one record per (model, task, language, method).

Each seed's outcome is cached by the model's files, the task, the method, the options and the data
(`<cache>/task-runs/`), so an interrupted suite resumes at the next seed and the teacher is trained
once for every build that compares against it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import logging
import random
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from polyglot_kd.build import versions, write_json_atomic
from polyglot_kd.finetune import FitSetup, get_method
from polyglot_kd.finetune.batching import training_batches
from polyglot_kd.finetune.loop import configure_precision, device_for_training
from polyglot_kd.modeling import load_tokenizer
from polyglot_kd.paths import cache_dir
from polyglot_kd.tasks import Task
from polyglot_kd.tasks.data import TaskData, check_labels

log = logging.getLogger(__name__)

KIND_MODULES = {"token-classification": "polyglot_kd.finetune.token",
                "sequence-classification": "polyglot_kd.finetune.sequence",
                "extractive-qa": "polyglot_kd.finetune.qa"}
RUN_VERSION = 1  # bump when training or scoring changes, so cached seeds are redone


@dataclasses.dataclass
class TaskSplits:
    train: TaskData
    dev: TaskData
    tests: dict[str, TaskData]
    source: str


def load_splits(task: Task, languages: list[str], options, source: str = "") -> TaskSplits:
    """English train/dev and each language's test data, checked before any training starts."""
    for lang in languages:
        task.check_language(lang)
    source = source or task.default_source
    train = task.load("train", "en", source, options.train_examples)
    dev = task.load("dev", "en", source, options.dev_examples)
    tests = {lang: task.load("test", lang, source, options.test_examples) for lang in languages}
    check_labels(task.labels, train, dev, *tests.values())
    return TaskSplits(train, dev, tests, source)


def _kind(task: Task):
    return importlib.import_module(KIND_MODULES[task.kind])


def _load_model(task: Task, model_dir: Path):
    import transformers

    from polyglot_kd.errors import PolyglotError

    kind = _kind(task)
    kwargs = kind.model_kwargs(task) if hasattr(kind, "model_kwargs") else {
        "num_labels": len(task.labels), "id2label": dict(enumerate(task.labels)),
        "label2id": {label: i for i, label in enumerate(task.labels)}}
    try:
        model, info = getattr(transformers, kind.AUTO_CLASS).from_pretrained(model_dir, output_loading_info=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise PolyglotError(f"cannot load {model_dir} as a {task.kind} model: {exc}") from None
    return model, frozenset(info["missing_keys"])


def _max_positions(model_dir: Path) -> int:
    """Longest input the model takes (RoBERTa-style position ids start after the padding index)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    limit = getattr(config, "max_position_embeddings", 512)
    return limit - 2 if "roberta" in config.model_type else limit


def _seed_key(model_dir: Path, task: Task, method: str, options, splits: TaskSplits, seed: int) -> str:
    from polyglot_kd.stages.evaluate import model_fingerprint

    opts = {k: v for k, v in dataclasses.asdict(options).items() if k not in ("seeds", "method")}
    data = hashlib.sha256(json.dumps([d.examples for d in (splits.train, splits.dev, *splits.tests.values())],
                                     sort_keys=True).encode()).hexdigest()
    key = [RUN_VERSION, model_fingerprint(Path(model_dir)), task.name, method, opts, sorted(splits.tests), data, seed]
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]


def run_seed(task: Task, model_dir: Path, method: str, options, splits: TaskSplits, seed: int,
             out_dir: Path | None = None, device: torch.device | None = None) -> dict:
    """Train once (one seed) and score English dev and every test language."""
    device = device or device_for_training()
    bf16 = device.type == "cuda" or configure_precision(options.cpu_bf16)
    kind = _kind(task)
    tokenizer = load_tokenizer(model_dir)
    max_length = min(options.max_length, _max_positions(model_dir))
    feats = {name: kind.featurize(d.examples, tokenizer, task, max_length, train=name == "train")
             for name, d in [("train", splits.train), ("dev", splits.dev), *splits.tests.items()]}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batch_size = options.gpu_batch_size if device.type == "cuda" else options.batch_size
    started = time.time()
    torch.manual_seed(seed)
    random.seed(seed)
    model, fresh = _load_model(task, model_dir)
    model.to(device)

    def score(data: TaskData, name: str) -> dict:
        return kind.evaluate(model, task, data.examples, feats[name], batch_size * 2, pad)

    setup = FitSetup(
        options=options,
        batches=lambda rng: training_batches(feats["train"], batch_size, rng, pad, kind.KEYS),
        dev=lambda m: score(splits.dev, "dev")[task.primary_metric],
        greater_is_better=task.greater_is_better, device=device, seed=seed, fresh=fresh,
        model_dir=Path(model_dir), out_dir=out_dir, test_languages=tuple(splits.tests))
    fitted = get_method(method)(model, setup)
    trained_at = time.time()
    result = {"seed": seed, "dev": score(splits.dev, "dev"), "test": {}}
    for lang, data in splits.tests.items():
        fitted.use_language(lang)
        result["test"][lang] = score(data, lang)
    result |= {"parameters": fitted.shares(), "composition": fitted.composition, "history": fitted.history,
               "train_seconds": round(trained_at - started, 1), "seconds": round(time.time() - started, 1),
               "device": str(device), "bf16": bf16}
    log.info("%s %s seed %d: dev %.4f, %s (%.0f s)", task.name, method, seed, result["dev"][task.primary_metric],
             ", ".join(f"{k} {v[task.primary_metric]:.4f}" for k, v in result["test"].items()), result["seconds"])
    return result


def run_seeds(task: Task, model_dir: Path, method: str, options, splits: TaskSplits,
              artifacts: Path | None = None, device: torch.device | None = None) -> list[dict]:
    """Every seed of `options.seeds`, each from the cache when it was run before."""
    out = []
    for seed in options.seeds:
        path = cache_dir() / "task-runs" / f"{_seed_key(model_dir, task, method, options, splits, seed)}.json"
        if path.is_file():
            log.info("%s %s seed %d on %s: cached", task.name, method, seed, model_dir)
            out.append(json.loads(path.read_text()))
            continue
        result = run_seed(task, model_dir, method, options, splits, seed,
                          artifacts / f"seed{seed}" if artifacts else None, device)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, result)
        out.append(result)
    return out


def _stats(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def records(model_name: str, model_dir: Path, task: Task, method: str, options, splits: TaskSplits,
            seeds: list[dict]) -> list[dict]:
    """One record per test language: mean and standard deviation over seeds, config and versions."""
    metric = task.primary_metric
    out = []
    for lang, data in splits.tests.items():
        values = [s["test"][lang][metric] for s in seeds]
        names = [k for k, v in seeds[0]["test"][lang].items() if isinstance(v, float)]
        out.append({
            "model": model_name, "model_path": str(model_dir), "task": task.name, "language": lang,
            "source_language": "en", "method": method, "metric": metric,
            "greater_is_better": task.greater_is_better, **_stats(values),
            "seeds": [s["seed"] for s in seeds],
            "dev": _stats([s["dev"][metric] for s in seeds]),
            "metrics": {n: _stats([s["test"][lang][n] for s in seeds]) for n in names},
            "parameters": seeds[0]["parameters"], "composition": seeds[0]["composition"],
            "data": {"train": len(splits.train), "dev": len(splits.dev), "test": len(data),
                     "sources": {"train": splits.train.source, "test": data.source}},
            "per_seed": [{k: v for k, v in s.items() if k != "test"} | {"test": s["test"][lang]} for s in seeds],
            "config": dataclasses.asdict(options) | {"method": method},
            "versions": versions(), "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
    return out
