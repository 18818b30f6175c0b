"""Stack stage: a frozen MT encoder under the backbone, trained by self-distillation (MT-LLM stage 1).

The backbone is the build's newest model before this stage (or the teacher, or what `stack.backbone`
names); it is also the teacher, reading the teacher side of the parallel training verses with its own
tokens, while the stacked model reads the student side through the MT encoder. With the embedded pair
the Portuguese-reading encoder is the pt->en model's, so for pt the student reads Portuguese and the
teacher English (`stack.student_side`, `stack.teacher_sides`). Writes the stacked model to `model/`
(see :mod:`polyglot_kd.methods.stacking.model`), the retrieval curve to `curve.jsonl`, and the training engine's
`metrics.jsonl` and `loss_curve.png`; an interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from polyglot_kd.methods.stacking import self_distill as stack_train
from polyglot_kd.pipeline.build import MODEL_DIR, Build
from polyglot_kd.config import LanguageConfig
from polyglot_kd.pipeline.stages import STAGES
from polyglot_kd.data import corpora
from polyglot_kd.pipeline.checks import corpus_problems
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import load_model_and_tokenizer, parameter_count
from polyglot_kd.methods.stacking.mt_encoders import load_mt_encoder, spec_problems
from polyglot_kd.sources.teacher import resolve_teacher
from polyglot_kd.methods.stacking.model import StackedModel
from polyglot_kd.core.timing import Timer
from polyglot_kd.engine.trainer import CHECKPOINTS

log = logging.getLogger(__name__)

STAGE = "stack"
RESUMABLE = True  # the build keeps .stack.partial (its checkpoints) for a rerun to resume


def languages(config: LanguageConfig) -> dict[str, str]:
    return {"source": config.source, "target": config.code}


def student_language(config: LanguageConfig) -> str:
    return languages(config)[config.stack.student_side]


def earlier_stages() -> list[str]:
    """Stages before this one whose model can be the backbone, newest first."""
    return [s for s in reversed(STAGES.names()[:STAGES.names().index(STAGE)])]


def backbone_name(build: Build) -> str:
    """What `stack.backbone` resolves to: a stage name, or a teacher name / dir / hub id."""
    spec = build.config.stack.backbone
    if spec == "auto":
        return next((s for s in earlier_stages() if build.model_dir(s)), build.config.teacher)
    return spec


def resolve_backbone(build: Build) -> Path:
    name = backbone_name(build)
    if name in STAGES:
        path = build.model_dir(name)
        if path is None:
            raise PolyglotError(f"stack.backbone is {name!r} but the {name} stage of {build.config.code} has not "
                                f"finished; run it first (--stages {name},{STAGE})")
        return path
    return resolve_teacher(name)


def inputs(build: Build) -> dict:
    c = build.config
    name = backbone_name(build)
    upstream = (build.manifest(name) or {}).get("inputs_hash") if name in STAGES else None
    return {"stack": vars(c.stack), "backbone": name, "backbone_inputs": upstream, "source": c.source,
            "corpus": corpora.fingerprint(c), "prefix": c.eval.prefix}


def preflight(config: LanguageConfig) -> list[str]:
    problems = corpus_problems(config)
    problems += [f"stack.mt_encoder: {p}" for p in spec_problems(config.stack.mt_encoder, student_language(config))]
    name = config.stack.backbone
    if name in STAGES and STAGES.names().index(name) >= STAGES.names().index(STAGE):
        problems.append(f"stack.backbone: {name!r} comes after the stack stage; name an earlier one "
                        f"({', '.join(earlier_stages())}), 'auto' or a model")
    return problems


def run(build: Build, out: Path) -> dict:
    cfg, sc = build.config, build.config.stack
    langs = languages(cfg)
    timer = Timer()
    with timer("load"):  # every bad input fails here, before training
        mt = load_mt_encoder(sc.mt_encoder, langs[sc.student_side], sc.mt_languages or None)
        backbone_path = resolve_backbone(build)
        backbone, tokenizer = load_model_and_tokenizer(backbone_path)
        model = StackedModel(backbone, tokenizer, mt, langs[sc.student_side], sc.enter_layer, sc.trainable_layers)
        train = corpora.train_text(cfg)
        pairs = train.pairs
        curve = (corpora.dev_set(cfg, sc.curve_items, seed=1) if sc.curve_split == "dev"
                 else next(iter(corpora.test_sets(cfg, sc.curve_items, seed=1).values())))
    log.info("stacking %s (%d-wide, reads %s) under %s at layer %d; %d trainable parameters; %d training pairs",
             mt.spec, mt.width, langs[sc.student_side], backbone_path, sc.enter_layer,
             parameter_count(model.trainable_parameters()), len(pairs))
    with timer("train"):
        metrics = stack_train.train(model, pairs, sc, langs, prefix=cfg.eval.prefix, curve=curve, out=out)
    with timer("save"):
        model.save(out / MODEL_DIR)
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # finished: the model is the result
    return metrics | {
        "backbone": str(backbone_path),
        "mt_encoder": mt.spec,
        "reads": langs[sc.student_side],
        "params_stacked_route": model.route_parameters(),
        "params_backbone": model.route_parameters(cfg.source),
        "params_mt_encoder": mt.parameter_count(),
        "params_trainable": parameter_count(model.trainable_parameters()),
        **train.record(),
        "timings": timer.seconds,
    }
