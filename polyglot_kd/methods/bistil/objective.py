"""BiStil phase 1, the objective: what one distillation step computes, on objects.

Batches alternate languages (even batch: target side, odd: source side) on top of the engine's
length-bucketed batcher, so both languages get equal amounts. A step encodes the batch with teacher
and student and sums the weighted losses of `DistillConfig`: pooled sentence embeddings (target
batches also pulled towards the teacher's embedding of their English translation), in-batch
contrastive, hidden states and attention maps of the mapped layers. A student with its own tokenizer
(embed-init) compares hidden states and attention word by word (`alignment.py`), or gets the
sentence-level losses only. The dev curve is retrieval on a dev ParallelSet.

Under several processes each takes its rows of every batch (`polyglot_kd.engine.sharding.Share`):
the pooled losses are means over equal shares; the token-level ones are reweighted by the real
tokens (or token pairs, or aligned words) of each share; the contrastive loss keeps the whole batch's
negatives by gathering every process's embeddings. Their mean over the processes is the 1-process loss.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import torch

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.pooling import encode
from polyglot_kd.data.arrow_pairs import PairFile
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.engine.batching import LengthBatches
from polyglot_kd.engine.sharding import Share
from polyglot_kd.methods.bistil.alignment import WordAlignment, aligned_attention_loss, aligned_hidden_loss
from polyglot_kd.methods.bistil.config import DistillConfig
from polyglot_kd.methods.bistil.losses import (AttentionLoss, ContrastiveLoss, HiddenLoss, PooledLoss,
                                              pooled)
from polyglot_kd.methods.bistil.student import layer_map
from polyglot_kd.tasks.retrieval import accuracy

log = logging.getLogger(__name__)

TOKEN_LEVEL_LOSSES = ("hidden_weight", "attention_weight")  # need one tokenizer for teacher and student
LOSS_WEIGHTS = ("pooled_weight", "contrastive_weight") + TOKEN_LEVEL_LOSSES
NO_SENTENCE_LOSS = ("with embed-init the student has its own tokenizer and only the sentence-level losses apply, "
                    "but distill.pooled_weight and contrastive_weight are both 0; expected one of them > 0")
GROUP = 50  # batches per length-sorted chunk


def sentence_level_weight(d: DistillConfig) -> float:
    return d.pooled_weight + d.contrastive_weight


def sentence_level_only(d: DistillConfig) -> DistillConfig:
    """`d` with the token-level losses off, for a student with its own tokenizer (embed-init) when
    `aligned_losses` is off: its positions do not pair with the teacher's. Says so when it turns one off."""
    dropped = [key for key in TOKEN_LEVEL_LOSSES if getattr(d, key)]
    if not dropped:
        return d
    log.warning("the student has its own tokenizer (embed-init) and distill.aligned_losses is off, so the "
                "token-level losses %s do not apply: distilling with the sentence-level ones (pooled, "
                "contrastive)", ", ".join(dropped))
    if not sentence_level_weight(d):
        raise PolyglotError(NO_SENTENCE_LOSS)
    return dataclasses.replace(d, **{key: 0.0 for key in dropped})


class BilingualBatches:
    """Batch b is one language (target when b is even) and batch b // 2 of the length-bucketed
    batcher over the parallel pairs (grouped by the target text's length)."""

    def __init__(self, pairs: ParallelSet | PairFile, batch_size: int, seed: int):
        if len(pairs) < batch_size:
            raise PolyglotError(f"the training corpus has {len(pairs)} parallel verses, fewer than one batch of {batch_size}")
        self.pairs = pairs
        self.batcher = LengthBatches(pairs.target_lengths(), batch_size, seed, group=GROUP)
        self.per_epoch = self.batcher.per_epoch

    def __call__(self, b: int) -> tuple[str, list[str], list[str]]:
        """(language side, texts in it, their translations)."""
        side = "target" if b % 2 == 0 else "source"
        src, tgt = self.pairs.take(self.batcher.batch(b // 2))
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
        if self.projection is not None:  # compare with the teacher in its space (pooled, hidden losses)
            out.last_hidden_state = self.projection(out.last_hidden_state)
            if hidden is not None:
                hidden = tuple(self.projection(h) for h in hidden)
        return out, hidden


def no_dropout(model) -> None:
    """Dropout 0 during distillation (as BiStil): the student should match the teacher, not regularise."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.0


def make_loss_fn(d: DistillConfig, teacher, module: Callable[[], torch.nn.Module], layers: list[int], tokenizer,
                 batches: BilingualBatches, device, teacher_tokenizer=None, share: Share | None = None):
    """step -> (loss, parts): `module()` returns the (prepared) DistillStudent; `layers` are the teacher
    layers the student was cut from. With a `teacher_tokenizer` (the student has its own), the teacher
    reads the texts through it. `share`: this process's rows of each batch (default all of them)."""
    share = share or Share()
    cross = teacher_tokenizer is not None and teacher_tokenizer is not tokenizer
    teacher_tokenizer = teacher_tokenizer or tokenizer
    need_attn = d.attention_weight > 0
    need_hidden = d.hidden_weight > 0 or need_attn
    pairs = layer_map(layers)
    pooled_loss = PooledLoss(d.pooled_loss)
    contrastive_loss = ContrastiveLoss(d.contrastive_temperature)
    hidden_loss = HiddenLoss(pairs.hidden)
    attention_loss = AttentionLoss(pairs.attention, d.attention_loss)
    weights = {"pooled": d.pooled_weight, "hidden": d.hidden_weight, "attention": d.attention_weight,
               "contrastive": d.contrastive_weight}

    def tok(texts, which=tokenizer, offsets=False):
        return which(texts, padding=True, truncation=True, max_length=d.max_length, return_tensors="pt",
                     return_offsets_mapping=offsets).to(device)

    def loss_fn(b: int):
        side, texts, translations = batches(b)
        if share.parallel:
            rows = share.rows(len(texts))
            texts, translations = texts[rows], translations[rows]
        aligned = cross and need_hidden
        enc = tok(texts, offsets=aligned)
        t_enc = enc if not cross else tok(texts, teacher_tokenizer, offsets=aligned)
        if aligned:  # positions differ: compare word by word (methods/bistil/alignment.py)
            alignment = WordAlignment.of(texts, enc.pop("offset_mapping").cpu(), t_enc.pop("offset_mapping").cpu()).to(device)
        with torch.no_grad():
            t_out = teacher(**t_enc, output_hidden_states=need_hidden, output_attentions=need_attn)
        s_out, s_hidden = module()(**enc, output_hidden_states=need_hidden, output_attentions=need_attn)
        mask = enc["attention_mask"]
        s_pooled = pooled(s_out, mask)
        parts = {}
        total = torch.zeros((), device=device)
        t_en_pooled = None
        if side == "target" and (d.cross_lingual or d.contrastive_weight):
            with torch.no_grad():
                t_en = tok(translations, teacher_tokenizer)
                t_en_pooled = pooled(teacher(**t_en), t_en["attention_mask"])
        if d.pooled_weight:
            value = pooled_loss(s_pooled, pooled(t_out, t_enc["attention_mask"]))
            if d.cross_lingual and t_en_pooled is not None:
                value = (value + pooled_loss(s_pooled, t_en_pooled)) / 2
            parts["pooled"] = value
        if d.contrastive_weight and t_en_pooled is not None:  # in-batch negatives: the whole global batch
            everyone = contrastive_loss(share.gather(s_pooled), share.gather(t_en_pooled))
            parts["contrastive"] = share.whole_batch(everyone)
        # token-level losses are means over real tokens (or token pairs; aligned words): weighted by count
        units = alignment.mask if aligned else mask
        if d.hidden_weight:
            value = (aligned_hidden_loss(s_hidden, t_out.hidden_states, pairs.hidden, alignment) if aligned
                     else hidden_loss(s_hidden, t_out.hidden_states, mask))
            parts["hidden"] = share.by_count(value, units.sum())
        if need_attn:  # over real query rows (kl) or real (query, key) pairs (mse)
            pairs_or_rows = units.sum() if d.attention_loss == "kl" else (units.sum(1) ** 2).sum()
            value = (aligned_attention_loss(s_out.attentions, t_out.attentions, pairs.attention, alignment,
                                            d.attention_loss) if aligned
                     else attention_loss(s_out.attentions, t_out.attentions, mask))
            parts["attention"] = share.by_count(value, pairs_or_rows)
        for name, value in parts.items():
            total = total + weights[name] * value
        return total, {k: float(v.detach()) for k, v in parts.items()}

    return loss_fn


def dev_retrieval(dev: ParallelSet, prefix: str, model, tokenizer, teacher, teacher_tokenizer=None,
                  max_length: int = 128, batch_size: int = 64) -> Callable[[], dict[str, float]]:
    """() -> the student's retrieval on `dev` and its retention of the teacher's score on the same set
    (the teacher is scored once, now)."""
    kwargs = dict(batch_size=batch_size, max_length=max_length, prefix=prefix)

    def score(m, tok=tokenizer) -> float:
        m.eval()
        return accuracy(encode(m, tok, dev.source, **kwargs), encode(m, tok, dev.target, **kwargs))["mean"]

    reference = score(teacher, teacher_tokenizer or tokenizer)

    def evaluate() -> dict[str, float]:
        student = score(model)
        retention = {"dev_retention": student / reference} if reference > 0 else {}
        return {"dev_retrieval": student} | retention

    return evaluate
