"""Stage-1 self-distillation of a stacked model: the backbone reading its own tokens is the teacher.

Each step takes a batch of parallel verses; the stacked model reads the student side through its MT
encoder, the backbone reads the teacher side(s) with its own tokenizer, and the loss is the MSE between
the L2-normalised mean-pooled embeddings (averaged over the teacher sides). The learning rate warms up,
then decays linearly to a tenth by whichever comes first, the step limit or the time budget, so a
time-capped run still ends on a small learning rate. A retrieval curve (teacher-read source against
stacked-read target) is measured every `eval_every` steps.

Runs on the project's training engine (`polyglot_kd.engine.trainer`, as the distill stage): checkpoints every
`checkpoint_every` steps and on interruption, resume (batches are a pure function of the step), a guard
against resuming another configuration, a NaN/inf stop, `metrics.jsonl` and `loss_curve.png`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import tempfile
import time
from pathlib import Path

import torch

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.files import inputs_hash
from polyglot_kd.methods.stacking.config import StackConfig
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.core.pooling import mean_pool
from polyglot_kd.methods.stacking.model import StackedModel, backbone_layers
from polyglot_kd.tasks.retrieval import accuracy
from polyglot_kd.engine.batching import LengthBatches
from polyglot_kd.engine.trainer import Trainer, TrainSettings

log = logging.getLogger(__name__)

CURVE_FILE = "curve.jsonl"
BUCKET = 32  # batches per length-sorted chunk


def teacher_embeddings(model: StackedModel, texts: list[str], prefix: str, max_length: int) -> torch.Tensor:
    """The backbone reading its own tokens: normalised mean-pooled last states, no gradients."""
    device = model.projection.weight.device
    batch = model.tokenizer([prefix + t for t in texts], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
    with torch.no_grad():
        hidden = model.backbone(**batch).last_hidden_state
    return torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)


def _mean_states(model: StackedModel, texts: list[str], language: str, max_length: int, mt: bool, prefix: str = "",
                 batch_size: int = 64) -> torch.Tensor:
    """Mean-pooled MT encoder states (mt=True) or the backbone's input to layer enter_layer (its word
    embeddings at 0), for each text."""
    device = model.projection.weight.device
    k = model.info.enter_layer
    layers = backbone_layers(model.backbone)
    out = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        with torch.no_grad():
            if mt:
                batch = model.mt.tokenize(chunk, language, max_length).to(device)
                hidden = model.mt_encoder(**batch).last_hidden_state
            else:
                batch = model.tokenizer([prefix + t for t in chunk], padding=True, truncation=True,
                                        max_length=max_length, return_tensors="pt").to(device)
                emb = model.backbone.embeddings
                hidden = emb.word_embeddings(batch["input_ids"]) if k == 0 else emb(input_ids=batch["input_ids"])
                mask = model.backbone.get_extended_attention_mask(batch["attention_mask"], batch["input_ids"].shape)
                for layer in layers[:k]:
                    hidden = layer(hidden, attention_mask=mask)[0]
            out.append(mean_pool(hidden, batch["attention_mask"]))
    return torch.cat(out)


def least_squares_init(model: StackedModel, student: list[str], teacher: list[str], languages: tuple[str, str],
                       max_length: int, prefix: str = "", ridge: float = 1e-2) -> float:
    """Initialise the projection in closed form: ridge regression from the mean MT state of each student
    text to the mean backbone state (at the entry point) of its teacher text. A linear map commutes with
    mean pooling, so this fits the sentence means exactly as far as a linear map can; training refines the
    rest. At enter_layer k > 0 the entry LayerNorm starts as the one that produced layer k's input, and the
    regression targets that norm's standardised space. Returns the fit's R^2."""
    x = _mean_states(model, student, languages[0], max_length, mt=True)
    y = _mean_states(model, teacher, languages[1], max_length, mt=False, prefix=prefix)
    if model.entry_norm is not None:
        source_norm = [m for m in backbone_layers(model.backbone)[model.info.enter_layer - 1].modules()
                       if isinstance(m, torch.nn.LayerNorm)][-1]
        model.entry_norm.load_state_dict(source_norm.state_dict())
        y = (y - source_norm.bias) / source_norm.weight
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc, yc = x - x_mean, y - y_mean
    gram = xc.T @ xc + ridge * len(x) * torch.eye(x.shape[1], device=x.device) * xc.var(0).mean()
    weight = torch.linalg.solve(gram, xc.T @ yc)  # (width_mt, hidden)
    with torch.no_grad():
        model.projection.weight.copy_(weight.T)
        model.projection.bias.copy_(y_mean - x_mean @ weight)
    residual = ((yc - xc @ weight) ** 2).sum()
    return float(1 - residual / (yc ** 2).sum())


def train(model: StackedModel, pairs: ParallelSet, cfg: StackConfig, languages: dict[str, str], *,
          prefix: str = "", curve: ParallelSet | None = None, out: Path | None = None) -> dict:
    """Train `model` in place on the shared engine (`polyglot_kd.engine.trainer.Trainer`: checkpoints every
    `cfg.checkpoint_every` steps and on interruption under `out/checkpoints/`, resume, config guard,
    NaN stop, `metrics.jsonl`, `loss_curve.png`); `languages` maps 'source'/'target' to language codes.
    Returns metrics. Without `out` the engine works in a temporary folder (nothing resumes)."""
    if out is None:
        with tempfile.TemporaryDirectory() as tmp:
            return train(model, pairs, cfg, languages, prefix=prefix, curve=curve, out=Path(tmp))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    budget = cfg.max_minutes * 60 or None
    settings = TrainSettings(steps=cfg.steps, lr=cfg.lr, warmup_steps=cfg.warmup_steps, weight_decay=0.0,
                             max_grad_norm=0.0, checkpoint_every=cfg.checkpoint_every, eval_every=cfg.eval_every,
                             log_every=10, seed=cfg.seed, time_budget_s=budget, schedule="budget", min_lr_ratio=0.1,
                             budget_excludes_eval=True)
    groups = [{"params": [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("adapted.")],
               "lr": cfg.lr},
              {"params": [p for p in model.adapted.parameters()], "lr": cfg.layer_lr}]
    sides = {"source": pairs.source, "target": pairs.target}
    student_texts = sides[cfg.student_side]
    # keep the last, partial batch of an epoch: the parallel sets may be small
    batcher = LengthBatches([len(t) for t in student_texts], cfg.batch_size, cfg.seed, group=BUCKET,
                            drop_last=False)
    recent: list[float] = []
    trainer = None

    def loss_fn(b: int):
        stacked = trainer.accelerator.unwrap_model(trainer.module)
        idx = batcher.batch(b)
        student = stacked.pooled([student_texts[i] for i in idx], languages[cfg.student_side], cfg.max_length)
        loss = sum(torch.nn.functional.mse_loss(student, teacher_embeddings(
            stacked, [sides[side][i] for i in idx], prefix, cfg.max_length)) for side in cfg.teacher_sides)
        loss = loss / len(cfg.teacher_sides)
        recent[:] = (recent + [loss.item()])[-50:]
        return loss, {}

    config_hash = inputs_hash({"batcher": "length-batches", "stack": vars(cfg), "model": dataclasses.asdict(model.info),
                               "backbone": model.backbone.config.name_or_path, "pairs": [len(pairs), pairs.name],
                               "languages": languages, "prefix": prefix})
    trainer = Trainer(out, model, loss_fn, settings, config_hash, groups=[g for g in groups if g["params"]])
    if trainer.share.parallel:  # its loss calls the model's methods, not its forward, which DDP needs to average
        raise PolyglotError(f"stacking's self-distillation runs on one process, and this is one of "
                            f"{trainer.share.count}: run it without `accelerate launch`")
    stacked: StackedModel = trainer.accelerator.unwrap_model(trainer.module)
    resuming = trainer.latest_checkpoint() is not None
    r2 = None
    if cfg.init == "least_squares" and not resuming:  # inside the time budget: it is part of what training costs
        begin = time.monotonic()
        idx = random.Random(cfg.seed).sample(range(len(pairs)), min(cfg.init_items, len(pairs)))
        side = cfg.teacher_sides[0]
        r2 = least_squares_init(stacked, [student_texts[i] for i in idx], [sides[side][i] for i in idx],
                                (languages[cfg.student_side], languages[side]), cfg.max_length, prefix)
        trainer.train_seconds = time.monotonic() - begin
        log.info("least-squares projection: R^2 %.3f on %d verses (%.0f s)", r2, len(idx), trainer.train_seconds)
    curve_src = None
    points: list[dict] = []
    if resuming and (out / CURVE_FILE).is_file():
        points = [json.loads(line) for line in (out / CURVE_FILE).read_text().splitlines() if line.strip()]

    def measure(step: int, loss: float | None) -> dict:
        nonlocal curve_src
        if curve_src is None:  # the teacher's side of the curve is fixed: encode it once
            curve_src = stacked.encode(curve.source, languages["source"], prefix=prefix, max_length=cfg.max_length)
        tgt = stacked.encode(curve.target, languages["target"], max_length=cfg.max_length)
        point = {"step": step, "seconds": round(trainer.train_seconds, 1), "loss": loss,
                 "examples": step * cfg.batch_size} | accuracy(curve_src, tgt)
        log.info("step %d: loss %s, %s retrieval %.3f", step, loss, curve.name, point["mean"])
        points[:] = [p for p in points if p["step"] < step] + [point]  # a resumed run measures its steps again
        with open(out / CURVE_FILE, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(p) + "\n" for p in points)
        return point

    def evaluate() -> dict[str, float]:
        return {"retrieval": measure(trainer.step, sum(recent) / len(recent) if recent else None)["mean"]}

    if curve is not None:
        trainer.evaluate = evaluate
        if not resuming:
            measure(0, None)
    summary = trainer.train()
    step = trainer.step
    if curve is not None and (not points or points[-1]["step"] != step):
        measure(step, sum(recent) / len(recent) if recent else None)
    return {"init_r2": r2, "steps": step, "train_seconds": summary["train_seconds"],
            "stopped_by": "steps" if step >= cfg.steps else "time",
            **({"stopped_early": summary["stopped_early"]} if "stopped_early" in summary else {}),
            "final_loss": sum(recent) / len(recent) if recent else summary.get("loss"),
            "examples": step * cfg.batch_size, "curve": points, "device": str(trainer.accelerator.device)}
