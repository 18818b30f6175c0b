"""Task distillation (BiStil phase 2): finetune method `lt-sft-kd`.

A distilled student (the distill stage's model) learns an English task with Lottery-Ticket Sparse
Fine-Tuning, exactly as `lt-sft` does (dense phase, mask, sparse phase, English-dev selection, the
result stored as a sparse difference plus the head), but its loss is distillation from a task-tuned
teacher instead of the gold labels:

    soft cross-entropy at temperature T on the labelled positions (`losses.SoftCrossEntropy`)
  + hidden-state MSE between each student layer and the teacher layer it was cut from
  + attention loss on the same layer pairs
  (+ optionally the ordinary cross-entropy on the gold labels; BiStil has none)

with the weights and T of `[distill] task_*`. The teacher is the model the student was distilled
from plus its own LT-SFT on the same task, data, options and seed, i.e. "multilingual model + task
SFT" as in BiStil. This module takes that teacher and the layer map as objects (`make_loss`); the
pipeline finds them (the distill stage's manifest) and trains the teacher with the suite's runner
(`polyglot_kd.pipeline.task_runs`).
"""

from __future__ import annotations

import dataclasses
import logging

import torch
import torch.nn.functional as F

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.methods.bistil.config import DistillConfig
from polyglot_kd.methods.bistil.losses import AttentionLoss, HiddenLoss, SoftCrossEntropy
from polyglot_kd.methods.bistil.student import layer_map
from polyglot_kd.methods.sft.fit import FitSetup, Fitted

log = logging.getLogger(__name__)

METHOD = "lt-sft-kd"
TEACHER_METHOD = "lt-sft"  # how the task-tuned teacher is trained (by the pipeline's runner)
KINDS = ("token-classification", "sequence-classification")  # tasks with one logit vector per label


def check_task(task) -> None:
    if task.kind not in KINDS:
        raise PolyglotError(f"{METHOD}: task {task.name!r} is {task.kind}; task distillation is written for "
                            f"{' and '.join(KINDS)} (one logit vector per label)")


def model_kwargs(options: DistillConfig) -> dict:
    """Attention maps need the eager implementation (SDPA returns none)."""
    return {"attn_implementation": "eager"} if options.task_attention_weight > 0 else {}


def make_loss(teacher: torch.nn.Module, student: torch.nn.Module, layers: list[int], options: DistillConfig):
    """(model, batch) -> the phase-2 loss against the frozen task-tuned `teacher`; student layer i was
    cut from teacher layer `layers[i]`; `options`' task_* fields give the weights and T."""
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
    pairs = layer_map(layers)
    soft_ce = SoftCrossEntropy(o.task_temperature)
    hidden_loss = HiddenLoss(pairs.hidden)
    attention_loss = AttentionLoss(pairs.attention, o.attention_loss)

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
        total = o.task_soft_weight * soft_ce(s_logits.float(), t_logits.float())
        if o.task_hard_weight:
            total = total + o.task_hard_weight * F.cross_entropy(s_logits.float(), gold)
        mask = inputs["attention_mask"]
        if hidden_w:
            total = total + hidden_w * hidden_loss(s.hidden_states, t.hidden_states, mask)
        if attn_w:
            total = total + attn_w * attention_loss(s.attentions, t.attentions, mask)
        return total

    return loss


def fit(model, setup: FitSetup) -> Fitted:
    """LT-SFT with the distillation loss the runner put in `setup.loss` (see `make_loss`)."""
    from polyglot_kd.methods.sft import lt_sft

    if setup.loss is None:
        raise PolyglotError(f"{METHOD} needs a task-tuned teacher: it trains a distill stage's model "
                            "(polyglot-kd eval LANG --models distill --method lt-sft-kd)")
    return dataclasses.replace(lt_sft.fit(model, setup), method=METHOD)
