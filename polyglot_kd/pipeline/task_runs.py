"""Zero-shot transfer runs: train a task on English with one method and several seeds, select on
English dev, test every target language; one record per (model, task, language, method).

Each seed's outcome is cached by the model's files, the task, the method, the options and the data
(`<cache>/task-runs/`), so an interrupted suite resumes at the next seed and the teacher is trained
once for every build that compares against it.

For `lt-sft-kd` (BiStil phase 2) this side finds what the method takes as objects: the distilled
student's teacher and layer map (from the distill stage's manifest, `distilled_from`) and the
task-tuned teacher, which is the suite's own cached `lt-sft` run of that teacher (`task_teacher`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import shutil
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from polyglot_kd.core.files import model_fingerprint, versions, write_json_atomic
from polyglot_kd.pipeline.build import MANIFEST, MODEL_DIR
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.methods.bistil import task_kd as kd
from polyglot_kd.methods.bistil.config import DistillConfig
from polyglot_kd.methods.sft import FINETUNE_METHODS
from polyglot_kd.methods.sft.fit import FitSetup
from polyglot_kd.methods.sft.sparse import SparseDiff
from polyglot_kd.engine.batching import LengthBatches, feature_batches
from polyglot_kd.methods.sft.loop import configure_precision, device_for_training
from polyglot_kd.core.loading import load_tokenizer
from polyglot_kd.core.paths import cache_dir
from polyglot_kd.tasks import TASK_KINDS
from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.data import TaskData, check_labels

log = logging.getLogger(__name__)

RUN_VERSION = 2  # 2: the shared length-bucketed batcher. Bump when training or scoring changes, so cached seeds are redone


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
    return TASK_KINDS.get(task.kind)


def load_task_model(task: Task, model_dir: Path, **extra):
    """The model with the task's head (new, randomly initialised parameters are returned as `fresh`)."""
    import transformers

    kind = _kind(task)
    kwargs = kind.model_kwargs(task) if hasattr(kind, "model_kwargs") else {
        "num_labels": len(task.labels), "id2label": dict(enumerate(task.labels)),
        "label2id": {label: i for i, label in enumerate(task.labels)}}
    kwargs |= extra
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


def seed_key(model_dir: Path, task: Task, method: str, options, splits: TaskSplits, seed: int, extra=None) -> str:

    opts = {k: v for k, v in dataclasses.asdict(options).items() if k not in ("seeds", "method")}
    data = hashlib.sha256(json.dumps([d.examples for d in (splits.train, splits.dev, *splits.tests.values())],
                                     sort_keys=True).encode()).hexdigest()
    key = [RUN_VERSION, model_fingerprint(Path(model_dir)), task.name, method, opts, sorted(splits.tests), data, seed]
    if extra is not None:  # e.g. lt-sft-kd's teacher and distillation options
        key.append(extra)
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclasses.dataclass
class Source:
    """Where a distilled student came from."""

    teacher_dir: Path
    layers: list[int]
    """The teacher layer (0-based) each student layer was cut from."""


def distilled_from(model_dir: Path) -> Source | None:
    """The teacher and layer map of a distill stage's model (from its manifest); None for any other model."""
    model_dir = Path(model_dir)
    stage = model_dir.parent if model_dir.name == MODEL_DIR else model_dir
    path = stage / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    if manifest.get("stage") != "distill":
        return None
    metrics = manifest.get("metrics", {})
    teacher = stage.parent / metrics.get("base_stage", "trim") / MODEL_DIR
    if not (teacher / "config.json").is_file():
        raise PolyglotError(f"{model_dir} was distilled from {teacher}, which is missing: phase 2 needs that "
                            f"teacher (rebuild it: polyglot-kd build {manifest.get('language', 'LANG')} --stages trim)")
    return Source(teacher, list(metrics["teacher_layers"]))


def _student_source(task: Task, model_dir: Path) -> Source:
    """The distilled student's source, refusing a task or model lt-sft-kd cannot train."""
    kd.check_task(task)
    source = distilled_from(model_dir)
    if source is None:
        raise PolyglotError(f"{kd.METHOD} trains a distilled student against its task-tuned teacher; {model_dir} "
                            "is not a distill stage's model")
    return source


def _kd_extra(task: Task, model_dir: Path, method: str, kd_options) -> list | None:
    """What lt-sft-kd's result also depends on: the teacher's files and the [distill] task_* options."""
    if method != kd.METHOD:
        return None
    source = _student_source(task, model_dir)
    opts = {k: v for k, v in vars(kd_options).items() if k.startswith("task_") or k == "attention_loss"}
    return [model_fingerprint(source.teacher_dir), source.layers, opts]


def task_teacher(task: Task, teacher_dir: Path, options, splits: TaskSplits, seed: int, device,
                 with_sft: bool = False, **load_kwargs):
    """The task-tuned teacher: `teacher_dir` + its LT-SFT and head for this task and seed, frozen; with
    `with_sft`, (teacher, its task SFT). It is this suite's own `lt-sft` run of `teacher_dir` (trained
    once, cached: its result in the seed cache, its SFT and head in `<cache>/task-runs/<key>.artifacts/`,
    so `eval --method lt-sft` reuses it). BiStil phase 2 and stacking stage 2 train against it."""
    from safetensors.torch import load_file

    key = seed_key(teacher_dir, task, kd.TEACHER_METHOD, options, splits, seed)
    artifacts = cache_dir() / "task-runs" / f"{key}.artifacts"
    if not (artifacts / "sft.safetensors").is_file():
        log.info("%s: training the task-tuned teacher (%s %s on %s, seed %d)", kd.METHOD, task.name,
                 kd.TEACHER_METHOD, teacher_dir, seed)
        partial = artifacts.with_name(artifacts.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        result = run_seed(task, teacher_dir, kd.TEACHER_METHOD, options, splits, seed, partial, device)
        shutil.rmtree(artifacts, ignore_errors=True)
        partial.rename(artifacts)
        seed_file = cache_dir() / "task-runs" / f"{key}.json"
        if not seed_file.is_file():  # the suite's own lt-sft run of this model: reused by `eval --method lt-sft`
            write_json_atomic(seed_file, result)
    model, _ = load_task_model(task, teacher_dir, **load_kwargs)
    head = load_file(str(artifacts / "head.safetensors"))
    missing, unexpected = model.load_state_dict(head, strict=False)
    if unexpected:
        raise PolyglotError(f"the cached teacher head {artifacts} does not fit {teacher_dir}: {unexpected}")
    sft = SparseDiff.load(artifacts / "sft.safetensors")
    sft.apply(model.base_model)
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return (model, sft) if with_sft else model


def run_seed(task: Task, model_dir: Path, method: str, options, splits: TaskSplits, seed: int,
             out_dir: Path | None = None, device: torch.device | None = None, kd_options=None) -> dict:
    """Train once (one seed) and score English dev and every test language. `kd_options` (the
    [distill] config) are lt-sft-kd's; the defaults when None."""
    device = device or device_for_training()
    kd_options = kd_options or DistillConfig()
    source = None
    if method == kd.METHOD:
        source = _student_source(task, model_dir)
        teacher = task_teacher(task, source.teacher_dir, options, splits, seed, device, **kd.model_kwargs(kd_options))
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
    model, fresh = load_task_model(task, model_dir, **(kd.model_kwargs(kd_options) if source else {}))
    model.to(device)

    def score(data: TaskData, name: str) -> dict:
        return kind.evaluate(model, task, data.examples, feats[name], batch_size * 2, pad)

    lengths = [len(f["input_ids"]) for f in feats["train"]]

    def batches(rng: random.Random) -> list[dict]:
        # the loop hands each epoch its own draw of the loop's generator: that draw seeds the batcher,
        # so every epoch is reshuffled and the run stays a function of the seed
        batcher = LengthBatches(lengths, batch_size, rng.getrandbits(64), drop_last=False)
        return feature_batches(feats["train"], batcher, 0, pad, kind.KEYS)

    setup = FitSetup(
        options=options,
        batches=batches,
        dev=lambda m: score(splits.dev, "dev")[task.primary_metric],
        greater_is_better=task.greater_is_better, device=device, seed=seed, fresh=fresh,
        model_dir=Path(model_dir), out_dir=out_dir, test_languages=tuple(splits.tests),
        loss=kd.make_loss(teacher, model, source.layers, kd_options) if source else None)
    fitted = FINETUNE_METHODS.get(method)(model, setup)
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
              artifacts: Path | None = None, device: torch.device | None = None, kd_options=None) -> list[dict]:
    """Every seed of `options.seeds`, each from the cache when it was run before."""
    kd_options = kd_options or DistillConfig()
    extra = _kd_extra(task, Path(model_dir), method, kd_options)
    out = []
    for seed in options.seeds:
        path = cache_dir() / "task-runs" / f"{seed_key(model_dir, task, method, options, splits, seed, extra)}.json"
        if path.is_file():
            log.info("%s %s seed %d on %s: cached", task.name, method, seed, model_dir)
            out.append(json.loads(path.read_text()))
            continue
        result = run_seed(task, model_dir, method, options, splits, seed,
                          artifacts / f"seed{seed}" if artifacts else None, device, kd_options)
        if method == "lt-sft" and artifacts and (artifacts / f"seed{seed}" / "sft.safetensors").is_file():
            # kept beside the cached result: lt-sft-kd's task-tuned teacher is this run (task_teacher)
            shutil.copytree(artifacts / f"seed{seed}", path.with_suffix(".artifacts"), dirs_exist_ok=True)
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
