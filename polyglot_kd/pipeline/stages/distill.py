"""Distill stage (BiStil phase 1): a shallower student from the trimmed teacher, on English and
target training verses, one language per batch, alternating, so both get equal amounts.

The teacher is the build's trimmed model (the same outputs as the full teacher on the text it
covers). The student is cut from the newest of the trimmed model and the embed-init model (a new
tokenizer with initialised, possibly factorised, embeddings): with embed-init in the build, student
and teacher read the same sentences through their own tokenizers, and only sentence-level losses
(pooled, contrastive) apply. The objective (batches, losses, dev curve) is
`polyglot_kd.methods.bistil.objective`; this stage loads the models and data, wires them, trains
and saves. Phase 2 (task distillation with sparse fine-tuning) is the eval suite's finetune method
`lt-sft-kd` (`polyglot-kd distill LANG --task pos`): the pipeline reads `teacher_layers` and
`base_stage` from this stage's manifest (`polyglot_kd.pipeline.task_runs.distilled_from`).

Data-parallel under `accelerate launch --num_processes N`: the N processes share each step's global
batch of `distill.batch_size` (it must divide by N), and the main process alone evaluates and writes.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from polyglot_kd.config import LanguageConfig
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.files import inputs_hash
from polyglot_kd.core.loading import load_encoder, load_tokenizer, parameter_count
from polyglot_kd.data import corpora
from polyglot_kd.engine.sharding import Share, processes, too_many_processes
from polyglot_kd.engine.trainer import CHECKPOINTS, Trainer, TrainSettings, make_accelerator
from polyglot_kd.methods.bistil import objective
from polyglot_kd.methods.bistil.ffn import activation_importance, ffn_problem
from polyglot_kd.methods.bistil.objective import LOSS_WEIGHTS, NO_SENTENCE_LOSS, sentence_level_weight
from polyglot_kd.methods.bistil.student import (embedding_rank_problem, make_student, select_layers, width_problem,
                                                width_rule)
from polyglot_kd.pipeline.build import MODEL_DIR, Build
from polyglot_kd.pipeline.checks import corpus_problems
from polyglot_kd.sources.teacher import local_config

log = logging.getLogger(__name__)

RESUMABLE = True
DATA_PARALLEL = True  # may run under several processes (`accelerate launch`); the other stages run on one
UPSTREAM = ("trim", "embed-init")  # the model the student is cut from: the latest of these that is built
TEACHER_STAGE = "trim"  # the model distilled from


def inputs(build: Build) -> dict:
    c = build.config
    base = base_stage(build, required=False)
    return {"corpus": corpora.fingerprint(c), "distill": c.distill.phase1(),
            "base": base and (build.manifest(base) or {}).get("inputs_hash"), "base_stage": base,
            "teacher": (build.manifest(TEACHER_STAGE) or {}).get("inputs_hash")}


def preflight(config: LanguageConfig) -> list[str]:
    problems = corpus_problems(config)
    if not problems and not corpora.has_pairs(config):
        problems.append("distill: the training text has no parallel pairs (monolingual text only counts for "
                        "the vocabulary); name an aligned, tsv, tmx or dataset source with role = 'train'")
    if "embed-init" in config.stages and not config.distill.aligned_losses and not sentence_level_weight(config.distill):
        problems.append(NO_SENTENCE_LOSS)
    shares = too_many_processes(processes().num_processes, config.distill.batch_size, "batch (distill.batch_size)")
    return problems + _shape_problems(config) + ([f"distill: {shares}"] if shares else [])


def _shape_problems(config: LanguageConfig) -> list[str]:
    """A student the teacher cannot be cut into, named before trimming starts rather than after."""
    d = config.distill
    teacher = local_config(config.teacher)
    if teacher is None:  # not fetched yet: make_student says the same once the teacher is there
        return []
    width, heads, layers = teacher.get("hidden_size"), teacher.get("num_attention_heads"), teacher.get("num_hidden_layers")
    problems = []
    if d.hidden_size and width and heads and width_problem(d.hidden_size, width, heads, d.width_init):
        quarters = (width, 3 * width // 4, width // 2, width // 4)
        examples = ", ".join(str(w) for w in quarters if not width_problem(w, width, heads, d.width_init))
        problems.append(f"distill.hidden_size: {d.hidden_size} must be {width_rule(width, heads, d.width_init)} "
                        f"(e.g. {examples})")
    if problem := embedding_rank_problem(d.embedding_rank, d.hidden_size or width, teacher.get("model_type")):
        problems.append(f"distill.embedding_rank: {problem}")
    if d.ffn_size > 0 and (problem := ffn_problem(d.ffn_size, teacher.get("intermediate_size"))):
        problems.append(f"distill.ffn_size: {problem}")
    if layers:
        try:
            select_layers(layers, d.student_layers, d.layer_selection, d.layers)
        except PolyglotError as exc:
            problems.append(f"distill: {exc}")
    return problems


def _ffn_activations(start, layers: list[int], tokenizer, pairs, d) -> dict:
    """Mean |activation| of each FFN neuron of the start model's kept layers on the first training pairs
    (both sides), which rank the neurons a narrower FFN keeps; the same pairs on every process."""
    source, target = pairs.take(range(min(d.ffn_sample, len(pairs))))
    return activation_importance(start, layers, tokenizer, source + target, max_length=d.max_length)


def base_stage(build: Build, required: bool = True) -> str | None:
    for stage in reversed(UPSTREAM):
        if build.model_dir(stage):
            return stage
    if required:
        raise PolyglotError(f"distill needs a trimmed model in {build.root}/trim: run "
                            f"`polyglot-kd build {build.config.code} --stages trim,distill`")
    return None


def run(build: Build, out: Path) -> dict:
    cfg, d = build.config, build.config.distill
    start_stage = base_stage(build)
    base = build.model_dir(start_stage)
    teacher_dir = build.model_dir(TEACHER_STAGE) or base
    own_tokenizer = teacher_dir != base  # the student starts from embed-init: its own tokenizer and embeddings
    if own_tokenizer and not d.aligned_losses:
        d = objective.sentence_level_only(d)
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
    accelerator = make_accelerator(d.grad_accum)
    # the corpus's files are written once, by the main process; the others open them after
    train = corpora.distill_files(cfg) if accelerator.is_main_process else None
    accelerator.wait_for_everyone()
    train = train or corpora.distill_files(cfg)  # batches are drawn from the memory-mapped file
    pairs, corpus_record = train.pairs, train.record()

    layers = select_layers(teacher.config.num_hidden_layers, d.student_layers, d.layer_selection, d.layers)
    activations = _ffn_activations(start, layers, tokenizer, pairs, d) if d.ffn_size else None
    student = make_student(start, layers, d.hidden_size or None, d.width_init, d.embedding_rank, d.ffn_size,
                           activations)
    objective.no_dropout(student.model)
    trainable = objective.DistillStudent(student.model, student.hidden_projection)
    batches = objective.BilingualBatches(pairs, d.batch_size, d.seed)
    settings = TrainSettings(steps=d.steps, lr=d.lr, warmup_steps=min(d.warmup_steps, d.steps), grad_accum=d.grad_accum,
                             checkpoint_every=d.checkpoint_every, eval_every=d.eval_every, seed=d.seed,
                             time_budget_s=d.time_budget_minutes * 60 or None, cpu_bf16=d.cpu_bf16,
                             # a time-capped run decays its learning rate by the clock too, so it ends annealed
                             schedule="budget" if d.time_budget_minutes else "linear")
    teacher.to(accelerator.device)
    trainer = None
    loss_fn = objective.make_loss_fn(d, teacher, lambda: trainer.module, layers, tokenizer, batches,
                                     accelerator.device, teacher_tokenizer, Share(accelerator))
    trainer = Trainer(out, trainable, loss_fn, settings, accelerator=accelerator,
                      config_hash=inputs_hash({"distill": d.phase1(), "base": str(base)}))
    if d.eval_every and accelerator.is_main_process:  # the engine evaluates on the main process only
        dev = corpora.dev_set(cfg, max_items=d.eval_items)
        trainer.evaluate = objective.dev_retrieval(dev, cfg.eval.prefix, student.model, tokenizer, teacher,
                                                   teacher_tokenizer, max_length=d.max_length)
    log.info("student: teacher layers %s, %s parameters (teacher %s); %d parallel training verses, %d process(es)",
             layers, f"{parameter_count(student.model):,}", f"{parameter_count(teacher):,}", len(pairs),
             accelerator.num_processes)
    summary = trainer.train()

    model = trainer.accelerator.unwrap_model(trainer.module).encoder
    if accelerator.is_main_process:
        model.save_pretrained(out / MODEL_DIR, safe_serialization=True)
        tokenizer.save_pretrained(out / MODEL_DIR)
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # finished: the model is the result
    accelerator.wait_for_everyone()
    return {
        "start": start_stage,
        "teacher_layers": layers,
        "base_stage": base_stage(build),
        "params": parameter_count(model),
        "params_base": parameter_count(teacher),
        "loss_weights": {key: getattr(d, key) for key in LOSS_WEIGHTS},  # as trained (embed-init drops some)
        "training": summary,
        **corpus_record,
        **({"stopped_early": summary["stopped_early"]} if "stopped_early" in summary else {}),
    }
