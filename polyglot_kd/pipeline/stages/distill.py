"""Distill stage (BiStil phase 1): a shallower student from the trimmed teacher, on English and
target training verses, one language per batch, alternating, so both get equal amounts.

The teacher is the build's trimmed model (the same outputs as the full teacher on the text it
covers). The student is cut from the newest of the trimmed model and the embed-init model (a new
tokenizer with initialised, possibly factorised, embeddings): with embed-init in the build, student
and teacher read the same sentences through their own tokenizers, and only sentence-level losses
(pooled, contrastive) apply. Losses and their weights come from `[distill]`; by default the
pooled sentence-embedding loss, with target batches also pulled towards the teacher's embedding of
their English translation. Dev-set (Acts) retrieval is logged during training for the curve.
Phase 2 (task distillation with sparse fine-tuning) is the eval suite's finetune method `lt-sft-kd`
(`polyglot_kd/finetune/kd.py`; `polyglot-kd distill LANG --task pos`): it reads `teacher_layers` and
`base_stage` from this stage's manifest.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from polyglot_kd.methods.bistil import losses
from polyglot_kd.core.files import inputs_hash
from polyglot_kd.pipeline.build import MODEL_DIR, Build
from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import bible
from polyglot_kd.pipeline.checks import corpus_problems
from polyglot_kd.core.pooling import encode
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import load_encoder, load_tokenizer
from polyglot_kd.methods.bistil.student import make_student, select_layers
from polyglot_kd.tasks.retrieval import accuracy
from polyglot_kd.methods.trim.vocab import parameter_count
from polyglot_kd.engine.trainer import CHECKPOINTS, Trainer, TrainSettings, make_accelerator

log = logging.getLogger(__name__)

RESUMABLE = True
UPSTREAM = ("trim", "embed-init")  # the model the student is cut from: the latest of these that is built
TEACHER_STAGE = "trim"  # the model distilled from
TOKEN_LEVEL_LOSSES = ("hidden_weight", "attention_weight")  # need one tokenizer for teacher and student
LOSS_WEIGHTS = ("pooled_weight", "contrastive_weight") + TOKEN_LEVEL_LOSSES


def inputs(build: Build) -> dict:
    c = build.config
    base = base_stage(build, required=False)
    return {"corpus": vars(c.corpus), "distill": vars(c.distill),
            "base": base and (build.manifest(base) or {}).get("inputs_hash"), "base_stage": base,
            "teacher": (build.manifest(TEACHER_STAGE) or {}).get("inputs_hash")}


def preflight(config: LanguageConfig) -> list[str]:
    problems = corpus_problems(config)
    if "embed-init" in config.stages and not _sentence_level_weight(config.distill):
        problems.append(NO_SENTENCE_LOSS)
    return problems


NO_SENTENCE_LOSS = ("with embed-init the student has its own tokenizer and only the sentence-level losses apply, "
                    "but distill.pooled_weight and contrastive_weight are both 0; expected one of them > 0")


def _sentence_level_weight(d) -> float:
    return d.pooled_weight + d.contrastive_weight


def sentence_level_only(config: LanguageConfig) -> LanguageConfig:
    """The config with the token-level losses off, for a student with its own tokenizer (embed-init):
    its positions do not pair with the teacher's. Says so when it turns one off."""
    d = config.distill
    dropped = [key for key in TOKEN_LEVEL_LOSSES if getattr(d, key)]
    if not dropped:
        return config
    log.warning("the student has its own tokenizer (embed-init), so the token-level losses %s do not apply: "
                "distilling with the sentence-level ones (pooled, contrastive)", ", ".join(dropped))
    if not _sentence_level_weight(d):
        raise PolyglotError(NO_SENTENCE_LOSS)
    return dataclasses.replace(config, distill=dataclasses.replace(d, **{key: 0.0 for key in dropped}))


def base_stage(build: Build, required: bool = True) -> str | None:
    for stage in reversed(UPSTREAM):
        if build.model_dir(stage):
            return stage
    if required:
        raise PolyglotError(f"distill needs a trimmed model in {build.root}/trim: run "
                            f"`polyglot-kd build {build.config.code} --stages trim,distill`")
    return None


class Batches:
    """Batch b is one language (target when b is even) and a deterministic slice of a shuffled epoch.

    Within an epoch, verses are grouped by length (sorted inside chunks of 50 batches, the batches
    then shuffled), which cuts padding, the main cost on CPU, without ordering the epoch by length.
    """

    GROUP = 50

    def __init__(self, pairs: bible.ParallelSet, batch_size: int, seed: int):
        if len(pairs) < batch_size:
            raise PolyglotError(f"the training corpus has {len(pairs)} parallel verses, fewer than one batch of {batch_size}")
        self.pairs, self.batch_size, self.seed = pairs, batch_size, seed
        self.per_epoch = len(pairs) // batch_size
        self._epoch: tuple[int, list[np.ndarray]] | None = None

    def _batches(self, epoch: int) -> list[np.ndarray]:
        if self._epoch is None or self._epoch[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.pairs))[: self.per_epoch * self.batch_size]
            chunk = self.GROUP * self.batch_size
            batches = []
            for start in range(0, len(order), chunk):
                group = sorted(order[start:start + chunk], key=lambda i: len(self.pairs.target[i]))
                batches += [np.array(group[j:j + self.batch_size]) for j in range(0, len(group), self.batch_size)]
            self._epoch = (epoch, [batches[i] for i in rng.permutation(len(batches))])
        return self._epoch[1]

    def __call__(self, b: int) -> tuple[str, list[str], list[str]]:
        """(language side, texts in it, their translations)."""
        side = "target" if b % 2 == 0 else "source"
        epoch, slot = divmod(b // 2, self.per_epoch)
        idx = self._batches(epoch)[slot]
        src = [self.pairs.source[i] for i in idx]
        tgt = [self.pairs.target[i] for i in idx]
        return (side, tgt, src) if side == "target" else (side, src, tgt)


class DistillStudent(torch.nn.Module):
    """The trainable part as one module (so accelerate can wrap it for several devices): the student
    encoder and, for a narrower student, the projection of its states to the teacher's width."""

    def __init__(self, encoder, projection=None):
        super().__init__()
        self.encoder = encoder
        self.projection = projection

    def forward(self, **kwargs):
        out = self.encoder(**kwargs)
        hidden = out.hidden_states
        if hidden is not None and self.projection is not None:
            hidden = tuple(self.projection(h) for h in hidden)
        return out, hidden


def make_loss_fn(cfg, teacher, module, layers: list[int], tokenizer, batches: Batches, device,
                 teacher_tokenizer=None):
    """`module()` returns the (prepared) DistillStudent; batches alternate languages. With a
    `teacher_tokenizer` (the student has its own), the teacher reads the texts through it."""
    d = cfg.distill
    teacher_tokenizer = teacher_tokenizer or tokenizer
    need_attn = d.attention_weight > 0
    need_hidden = d.hidden_weight > 0 or need_attn
    layer_map = [(i + 1, t + 1) for i, t in enumerate(layers)]  # hidden_states[0] = embeddings
    attn_map = [(i, t) for i, t in enumerate(layers)]

    def tok(texts, which=tokenizer):
        return which(texts, padding=True, truncation=True, max_length=d.max_length, return_tensors="pt").to(device)

    def loss_fn(b: int):
        side, texts, translations = batches(b)
        enc = tok(texts)
        t_enc = enc if teacher_tokenizer is tokenizer else tok(texts, teacher_tokenizer)
        with torch.no_grad():
            t_out = teacher(**t_enc, output_hidden_states=need_hidden, output_attentions=need_attn)
        s_out, s_hidden = module()(**enc, output_hidden_states=need_hidden, output_attentions=need_attn)
        mask = enc["attention_mask"]
        s_pooled = losses.pooled(s_out, mask)
        parts = {}
        total = torch.zeros((), device=device)
        t_en_pooled = None
        if side == "target" and (d.cross_lingual or d.contrastive_weight):
            with torch.no_grad():
                t_en = tok(translations, teacher_tokenizer)
                t_en_pooled = losses.pooled(teacher(**t_en), t_en["attention_mask"])
        if d.pooled_weight:
            pooled = losses.pooled_loss(s_pooled, losses.pooled(t_out, t_enc["attention_mask"]), kind=d.pooled_loss)
            if d.cross_lingual and t_en_pooled is not None:
                pooled = (pooled + losses.pooled_loss(s_pooled, t_en_pooled, kind=d.pooled_loss)) / 2
            parts["pooled"] = pooled
        if d.contrastive_weight and t_en_pooled is not None:
            parts["contrastive"] = losses.contrastive_loss(s_pooled, t_en_pooled, d.contrastive_temperature)
        if d.hidden_weight:
            parts["hidden"] = losses.hidden_loss(s_hidden, t_out.hidden_states, mask, layer_map)
        if need_attn:
            parts["attention"] = losses.attention_loss(s_out.attentions, t_out.attentions, mask, attn_map,
                                                       kind=d.attention_loss)
        weights = {"pooled": d.pooled_weight, "hidden": d.hidden_weight, "attention": d.attention_weight,
                   "contrastive": d.contrastive_weight}
        for name, value in parts.items():
            total = total + weights[name] * value
        return total, {k: float(v.detach()) for k, v in parts.items()}

    return loss_fn


def dev_retrieval(cfg, model, tokenizer, teacher, teacher_tokenizer=None):
    """Dev-set (Acts) retrieval of the student and its retention of the teacher's score on the same set."""
    dev = bible.parallel(cfg.corpus.source_bible, cfg.corpus.bible, "dev", max_items=cfg.distill.eval_items)
    kwargs = dict(batch_size=64, max_length=cfg.distill.max_length, prefix=cfg.eval.prefix)

    def score(m, tok=tokenizer) -> float:
        m.eval()
        return accuracy(encode(m, tok, dev.source, **kwargs), encode(m, tok, dev.target, **kwargs))["mean"]

    reference = score(teacher, teacher_tokenizer or tokenizer)

    def evaluate() -> dict[str, float]:
        student = score(model)
        retention = {"dev_retention": student / reference} if reference > 0 else {}
        return {"dev_retrieval": student} | retention

    return evaluate


def run(build: Build, out: Path) -> dict:
    cfg, d = build.config, build.config.distill
    start_stage = base_stage(build)
    base = build.model_dir(start_stage)
    teacher_dir = build.model_dir(TEACHER_STAGE) or base
    own_tokenizer = teacher_dir != base  # the student starts from embed-init: its own tokenizer and embeddings
    if own_tokenizer:
        cfg = sentence_level_only(cfg)
        d = cfg.distill
    attn = {"attn_implementation": "eager"} if d.attention_weight else {}  # attention maps need eager
    teacher = load_encoder(teacher_dir, **attn)
    for p in teacher.parameters():
        p.requires_grad_(False)
    tokenizer = load_tokenizer(base)
    teacher_tokenizer = None
    if own_tokenizer:
        teacher_tokenizer = load_tokenizer(teacher_dir)
        start = load_encoder(base, **attn)
        if start.config.num_hidden_layers != teacher.config.num_hidden_layers:
            raise PolyglotError(f"the {start_stage} model has {start.config.num_hidden_layers} layers, the teacher "
                                f"{teacher.config.num_hidden_layers}; expected the same stack")
    else:
        start = teacher
    layers = select_layers(teacher.config.num_hidden_layers, d.student_layers, d.layer_selection, d.layers)
    student = make_student(start, layers, d.hidden_size or None)
    _no_dropout(student.model)
    trainable = DistillStudent(student.model, student.hidden_projection)

    pairs = bible.parallel(cfg.corpus.source_bible, cfg.corpus.bible, "train")
    batches = Batches(pairs, d.batch_size, d.seed)
    settings = TrainSettings(steps=d.steps, lr=d.lr, warmup_steps=min(d.warmup_steps, d.steps), grad_accum=d.grad_accum,
                             checkpoint_every=d.checkpoint_every, eval_every=d.eval_every, seed=d.seed,
                             time_budget_s=d.time_budget_minutes * 60 or None, cpu_bf16=d.cpu_bf16,
                             # a time-capped run decays its learning rate by the clock too, so it ends annealed
                             schedule="budget" if d.time_budget_minutes else "linear")
    accelerator = make_accelerator(d.grad_accum)
    teacher.to(accelerator.device)
    trainer = None
    loss_fn = make_loss_fn(cfg, teacher, lambda: trainer.module, layers, tokenizer, batches, accelerator.device,
                           teacher_tokenizer)
    trainer = Trainer(out, trainable, loss_fn, settings, accelerator=accelerator,
                      config_hash=inputs_hash({"distill": vars(d), "base": str(base)}))
    trainer.evaluate = dev_retrieval(cfg, student.model, tokenizer, teacher, teacher_tokenizer) if d.eval_every else None
    log.info("student: teacher layers %s, %s parameters (teacher %s); %d parallel training verses",
             layers, f"{parameter_count(student.model):,}", f"{parameter_count(teacher):,}", len(pairs))
    summary = trainer.train()

    model = trainer.accelerator.unwrap_model(trainer.module).encoder
    model.save_pretrained(out / MODEL_DIR, safe_serialization=True)
    tokenizer.save_pretrained(out / MODEL_DIR)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # finished: the model is the result
    return {
        "start": start_stage,
        "teacher_layers": layers,
        "base_stage": base_stage(build),
        "params": parameter_count(model),
        "params_base": parameter_count(teacher),
        "loss_weights": {key: getattr(d, key) for key in LOSS_WEIGHTS},  # as trained (embed-init drops some)
        "training": summary,
    }


def _no_dropout(model) -> None:
    """Dropout 0 during distillation (as BiStil): the student should match the teacher, not regularise."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.0

