"""Task distillation (BiStil phase 2): finetune method `lt-sft-kd`.

A distilled student (the distill stage's model) learns an English task with Lottery-Ticket Sparse
Fine-Tuning, exactly as `lt-sft` does (dense phase, mask, sparse phase, English-dev selection, the
result stored as a sparse difference plus the head), but its loss is distillation from a task-tuned
teacher instead of the gold labels:

    soft cross-entropy at temperature T on the labelled positions (`distill_losses.soft_ce`)
  + hidden-state MSE between each student layer and the teacher layer it was cut from
  + attention loss on the same layer pairs
  (+ optionally the ordinary cross-entropy on the gold labels; BiStil has none)

with the weights and T of `[distill] task_*`. The teacher is the model the student was distilled
from (its build's trimmed model: same tokenizer, and the layer map is the student's manifest's
`teacher_layers`) plus its own LT-SFT on the same task, data, options and seed, i.e. "multilingual
model + task SFT" as in BiStil. That teacher run is the suite's own `lt-sft` run of the base model:
its result goes to the suite's seed cache and its SFT and head to `<cache>/task-runs/<key>.artifacts/`,
so it is trained once and `polyglot-kd eval LANG --method lt-sft` reuses it for the trimmed model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F

from polyglot_kd.methods.bistil import losses
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.methods.sft.fit import FitSetup, Fitted

log = logging.getLogger(__name__)

METHOD = "lt-sft-kd"
TEACHER_METHOD = "lt-sft"
KINDS = ("token-classification", "sequence-classification")  # tasks with one logit vector per label


@dataclasses.dataclass
class Source:
    """Where a distilled student came from."""

    teacher_dir: Path
    layers: list[int]
    """The teacher layer (0-based) each student layer was cut from."""


def distilled_from(model_dir: Path) -> Source | None:
    """The teacher and layer map of a distill stage's model (from its manifest); None for any other model."""
    model_dir = Path(model_dir)
    stage = model_dir.parent if model_dir.name == "model" else model_dir
    path = stage / "manifest.json"
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    if manifest.get("stage") != "distill":
        return None
    metrics = manifest.get("metrics", {})
    teacher = stage.parent / metrics.get("base_stage", "trim") / "model"
    if not (teacher / "config.json").is_file():
        raise PolyglotError(f"{model_dir} was distilled from {teacher}, which is missing: phase 2 needs that "
                            f"teacher (rebuild it: polyglot-kd build {manifest.get('language', 'LANG')} --stages trim)")
    return Source(teacher, list(metrics["teacher_layers"]))


def check_task(task) -> None:
    if task.kind not in KINDS:
        raise PolyglotError(f"{METHOD}: task {task.name!r} is {task.kind}; task distillation is written for "
                            f"{' and '.join(KINDS)} (one logit vector per label)")


def model_kwargs(options) -> dict:
    """Attention maps need the eager implementation (SDPA returns none)."""
    return {"attn_implementation": "eager"} if options.task_attention_weight > 0 else {}


def task_teacher(task, teacher_dir: Path, finetune, splits, seed: int, device, with_sft: bool = False, **load_kwargs):
    """The task-tuned teacher: `teacher_dir` + its LT-SFT and head for this task and seed, frozen (trained
    once by the suite's runner, cached); with `with_sft`, (teacher, its task SFT). Stage 2 of stacking
    uses both (`polyglot_kd/stack_task.py`)."""
    from polyglot_kd.core.files import write_json_atomic
    from polyglot_kd.pipeline import task_runs as runner
    from polyglot_kd.methods.sft.sparse import SparseDiff
    from polyglot_kd.core.paths import cache_dir
    from safetensors.torch import load_file

    key = runner.seed_key(teacher_dir, task, TEACHER_METHOD, finetune, splits, seed)
    artifacts = cache_dir() / "task-runs" / f"{key}.artifacts"
    if not (artifacts / "sft.safetensors").is_file():
        log.info("%s: training the task-tuned teacher (%s %s on %s, seed %d)", METHOD, task.name, TEACHER_METHOD,
                 teacher_dir, seed)
        partial = artifacts.with_name(artifacts.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        result = runner.run_seed(task, teacher_dir, TEACHER_METHOD, finetune, splits, seed, partial, device)
        shutil.rmtree(artifacts, ignore_errors=True)
        partial.rename(artifacts)
        seed_file = cache_dir() / "task-runs" / f"{key}.json"
        if not seed_file.is_file():  # the suite's own lt-sft run of this model: reused by `eval --method lt-sft`
            write_json_atomic(seed_file, result)
    model, _ = runner.load_task_model(task, teacher_dir, **load_kwargs)
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


def make_loss(teacher: torch.nn.Module, student: torch.nn.Module, layers: list[int], options):
    """(model, batch) -> the phase-2 loss; `options` is the [distill] config (task_* fields)."""
    o = options
    if teacher.config.vocab_size != student.config.vocab_size:
        raise PolyglotError(f"{METHOD}: the student's vocabulary ({student.config.vocab_size}) is not its teacher's "
                            f"({teacher.config.vocab_size}); phase 2 needs the same tokenizer")
    same_width = teacher.config.hidden_size == student.config.hidden_size
    same_heads = teacher.config.num_attention_heads == student.config.num_attention_heads
    hidden_w = o.task_hidden_weight if same_width else 0.0
    attn_w = o.task_attention_weight if same_heads else 0.0
    if (o.task_hidden_weight and not same_width) or (o.task_attention_weight and not same_heads):
        log.warning("%s: the student is narrower than its teacher; hidden-state/attention losses skipped", METHOD)
    layer_map = [(i + 1, t + 1) for i, t in enumerate(layers)]  # hidden_states[0] is the embedding output
    attn_map = list(enumerate(layers))

    def loss(model, batch):
        labels = batch["labels"]
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        flags = {"output_hidden_states": hidden_w > 0, "output_attentions": attn_w > 0}
        with torch.no_grad():
            t = teacher(**inputs, **flags)
        s = model(**inputs, **flags)
        if s.logits.dim() == 3:  # tokens: the labelled positions only (each word's first subword)
            keep = labels != -100
            s_logits, t_logits, gold = s.logits[keep], t.logits[keep], labels[keep]
        else:
            s_logits, t_logits, gold = s.logits, t.logits, labels
        total = o.task_soft_weight * losses.soft_cross_entropy(s_logits.float(), t_logits.float(), o.task_temperature)
        if o.task_hard_weight:
            total = total + o.task_hard_weight * F.cross_entropy(s_logits.float(), gold)
        mask = inputs["attention_mask"]
        if hidden_w:
            total = total + hidden_w * losses.hidden_loss(s.hidden_states, t.hidden_states, mask, layer_map)
        if attn_w:
            total = total + attn_w * losses.attention_loss(s.attentions, t.attentions, mask, attn_map,
                                                           kind=o.attention_loss)
        return total

    return loss


def fit(model, setup: FitSetup) -> Fitted:
    """LT-SFT with the distillation loss the runner put in `setup.loss` (see `make_loss`)."""
    from polyglot_kd.methods.sft import lt_sft

    if setup.loss is None:
        raise PolyglotError(f"{METHOD} needs a task-tuned teacher: it trains a distill stage's model "
                            "(polyglot-kd eval LANG --models distill --method lt-sft-kd)")
    return dataclasses.replace(lt_sft.fit(model, setup), method=METHOD)
