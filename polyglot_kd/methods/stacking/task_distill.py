"""MT-encoder stacking, stage 2: task distillation (MT-LLM's stages 2-3).

The task-tuned teacher is the stacked model's backbone fine-tuned on the English task by the eval
suite: backbone + its `lt-sft` task SFT + head, the same cached run that `lt-sft-kd` uses
(`polyglot_kd.pipeline.task_runs.task_teacher`, handed in as an object). Its pooled output on each English training example (the
vector its head reads: the final state of the first token; a BERT-style head passes it through the
pooler first) is computed once; the stacked model reads the same example through its MT route and
learns to produce that vector (MSE on its mean-pooled output), and the teacher's head, frozen,
classifies the stacked model's output at test time, in the target language. The task SFT is applied
to the stacked model's backbone too, so the layers above the MT encoder are the teacher's; what trains
is what stage 1 trains (the projection, and `trainable_layers` copies), on the shared engine
(`polyglot_kd.engine.trainer.Trainer`: checkpoints, resume, logs).

Sequence(-pair) classification tasks (XNLI, PAWS-X): one vector per example; a pair is read as one
text, the two parts joined by a space. Which text the stacked model reads: an MT encoder that reads
English (NLLB, M2M100, an en->X Marian model) reads the English training data itself; one that does
not, such as the embedded pair's Portuguese reader (the pt->en model's encoder, see docs/stacking.md),
reads a translation of it into its language (`translate`; for pt by default the embedded en->pt model
with its own decoder), while the teacher always reads the English originals, as in stage 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from polyglot_kd.core.files import inputs_hash
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.methods.stacking.model import StackedModel
from polyglot_kd.engine.batching import LengthBatches
from polyglot_kd.engine.trainer import Trainer, TrainSettings

log = logging.getLogger(__name__)


@dataclass
class Stage2Settings:
    steps: int = 300
    batch_size: int = 16
    lr: float = 1e-3
    layer_lr: float = 1e-4
    warmup_steps: int = 20
    max_length: int = 128
    checkpoint_every: int = 100
    time_budget_minutes: float = 0.0
    seed: int = 0


def example_text(example: dict) -> str:
    pair = example.get("text_pair")
    return example["text"] if pair is None else f"{example['text']} {pair}"


def head_input(teacher, batch: dict) -> torch.Tensor:
    """What the teacher's classification head reads: the first token's final state."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    return teacher.base_model(**inputs).last_hidden_state[:, 0]


def head_logits(teacher, pooled: torch.Tensor) -> torch.Tensor:
    """The teacher's head on (batch, hidden) vectors, as if they were its first token's state."""
    states = pooled.unsqueeze(1)
    pooler = getattr(teacher.base_model, "pooler", None)
    if pooler is not None:  # BERT: pooler (dense + tanh on the first token) -> dropout -> classifier
        return teacher.classifier(teacher.dropout(pooler(states)))
    return teacher.classifier(states)  # RoBERTa / XLM-R: the classification head reads features[:, 0]


@torch.no_grad()
def teacher_targets(teacher, tokenizer, examples: list[dict], max_length: int, batch_size: int = 32) -> torch.Tensor:
    device = next(teacher.parameters()).device
    out = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        pairs = [ex.get("text_pair") for ex in chunk]
        batch = tokenizer([ex["text"] for ex in chunk], pairs if any(p is not None for p in pairs) else None,
                          padding=True, truncation=True, max_length=max_length, return_tensors="pt").to(device)
        out.append(head_input(teacher, batch).float().cpu())
    return torch.cat(out)


def embedded_translator(source: str, target: str) -> Callable[[list[str]], list[str]]:
    """Greedy translation with the embedded Marian pair (en->pt), in batches."""
    from polyglot_kd.methods.stacking.marian import port as marian_model
    from polyglot_kd.sources.marian import resolve_embedded_mt

    model, tokenizer = marian_model.load_translator(resolve_embedded_mt(f"{source}-{target}"))

    def translate(texts: list[str]) -> list[str]:
        return [t for i in range(0, len(texts), 32) for t in marian_model.translate(model, tokenizer, texts[i:i + 32])]

    return translate


def train(stacked: StackedModel, teacher, teacher_tokenizer, task_sft, train_examples: list[dict], out: Path,
          settings: Stage2Settings, source: str = "en", translate: Callable[[list[str]], list[str]] | None = None) -> dict:
    """Train `stacked` in place towards the teacher's pooled outputs on `train_examples` (English)."""
    if task_sft is not None:
        task_sft.apply(stacked.backbone)
    targets = teacher_targets(teacher, teacher_tokenizer, train_examples, settings.max_length)
    texts = [example_text(ex) for ex in train_examples]
    reads = source if stacked.mt.reads(source) else stacked.info.language
    if reads != source:
        if translate is None:
            raise PolyglotError(f"the stacked model's MT encoder {stacked.mt.spec} does not read {source!r}: stage 2 "
                                f"needs a translation of the {source} training data into {reads!r} (translate=...)")
        texts = translate(texts)
        log.info("stage 2: %d training examples translated %s->%s", len(texts), source, reads)
    if len(texts) < settings.batch_size:
        raise PolyglotError(f"stage 2 has {len(texts)} training examples, fewer than one batch of {settings.batch_size}")
    batcher = LengthBatches([len(t) for t in texts], settings.batch_size, settings.seed)

    trainer = None

    def loss_fn(b: int):
        model = trainer.accelerator.unwrap_model(trainer.module)
        idx = batcher.batch(b)
        pooled = model.pooled([texts[i] for i in idx], reads, settings.max_length, normalize=False)
        return torch.nn.functional.mse_loss(pooled, targets[torch.as_tensor(idx)].to(pooled.device)), {}

    groups = [{"params": [p for n, p in stacked.named_parameters() if p.requires_grad and not n.startswith("adapted.")],
               "lr": settings.lr},
              {"params": list(stacked.adapted.parameters()), "lr": settings.layer_lr}]
    run = TrainSettings(steps=settings.steps, lr=settings.lr, warmup_steps=settings.warmup_steps, weight_decay=0.0,
                        max_grad_norm=0.0, checkpoint_every=settings.checkpoint_every, seed=settings.seed,
                        time_budget_s=settings.time_budget_minutes * 60 or None, schedule="budget", min_lr_ratio=0.1,
                        budget_excludes_eval=True)
    config_hash = inputs_hash({"batcher": "length-batches", "stage2": vars(settings), "reads": reads, "n": len(texts), "texts": texts[:5]})
    trainer = Trainer(out, stacked, loss_fn, run, config_hash, groups=[g for g in groups if g["params"]])
    summary = trainer.train()
    return summary | {"reads": reads, "examples": len(texts)}


@torch.no_grad()
def predict(stacked: StackedModel, teacher, examples: list[dict], language: str, labels: tuple[str, ...],
            max_length: int = 128, batch_size: int = 64) -> list[str]:
    """Labels of target-language examples read through the stacked model, classified by the teacher's head."""
    out = []
    for start in range(0, len(examples), batch_size):
        chunk = [example_text(ex) for ex in examples[start:start + batch_size]]
        pooled = stacked.pooled(chunk, language, max_length, normalize=False)
        out += [labels[i] for i in head_logits(teacher, pooled.to(next(teacher.parameters()).device)).argmax(-1).tolist()]
    return out
