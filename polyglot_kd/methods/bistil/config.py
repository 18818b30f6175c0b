"""Settings of BiStil distillation, phase 1 (the student) and phase 2 (task distillation)."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyglot_kd.methods.bistil import LOSSES

LAYER_SELECTIONS = ("bottom", "regular", "list")


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
    width_init: str = "svd"
    """How a narrower student starts: 'svd' (rotated into the teacher's top singular directions of its
    embeddings) or 'select' (a subset of the teacher's coordinates and whole attention heads, so every
    LayerNorm keeps normalising what it normalised in the teacher)."""
    embedding_rank: int = 0
    """Factorise the student's word embedding at this rank (coordinates vocab x rank, primitives
    rank x width, from the truncated SVD of the matrix it starts from); 0 keeps the full matrix. The
    vocabulary is most of a small student's parameters, so this is the size axis beside layers and width."""
    ffn_size: int = 0
    """Inner size of the student's feed-forward blocks; 0 keeps the teacher's. A smaller one keeps, per
    layer, the neurons that write most into the residual stream on a sample of the training text, so
    each layer costs less compute while the width, heads and LayerNorms stay the teacher's."""
    ffn_sample: int = 1024
    """Training pairs (both sides) whose activations rank the FFN neurons when `ffn_size` is set."""
    chosen_by: str = ""
    """Where this student's shape comes from, for the manifest and the model card: set by
    `polyglot-kd build --budget` (the frontier point and the rule that picked it), or written in a
    language file beside the shape it records."""
    steps: int = 1800
    """Optimiser steps (each one batch of one language; the languages alternate)."""
    time_budget_minutes: float = 0.0
    """Stop after this many minutes of training; 0 (the default): no clock, training stops by `steps`,
    so the same command gives the same model on any machine. With a budget the learning rate decays by
    whichever is further along, steps or minutes, so a run cut short by the clock still ends annealed;
    such a run logs a WARNING and its manifest says "trained N of M steps (time budget)"."""
    mixed_domains: list[str] = field(default_factory=lambda: ["weblate", "sphinx", "wagtail"])
    """Software message catalogs (`polyglot_kd/data/catalogs.py`) whose English-target pairs join the
    training pairs, so the student does not learn from scripture alone; [] trains on the corpus only.
    Pairs that are also test sentences are left out."""
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
    """Weight of the hidden-state MSE between student layer i and the teacher layer it was cut from;
    beside the pooled loss it gives a better student (loss ablation: docs/distillation.md). A student
    with its own tokenizer (embed-init) compares word states instead (see `aligned_losses`)."""
    attention_weight: float = 1.0
    """Weight of the attention-distribution loss on the same layer pairs (skipped like hidden_weight)."""
    aligned_losses: bool = True
    """For a student with its own tokenizer (embed-init): the hidden-state and attention losses compare
    words (each word the mean of its tokens' states on both sides, aligned by character offsets); false:
    that student gets the sentence-level losses only."""
    attention_loss: str = "mse"
    """'mse' or 'kl'."""
    checkpoint_every: int = 200
    eval_every: int = 100
    """Dev-set retrieval (Acts) every N steps for the curve; 0: none."""
    cpu_bf16: bool = True
    """bf16 autocast on CPUs with native bf16 (AVX512-BF16, AMX), where it gives faster steps with the
    same curve (docs/distillation.md); a GPU always uses bf16."""
    eval_items: int = 300
    seed: int = 0
    task_temperature: float = 2.0
    """Phase 2 (task distillation, finetune method 'lt-sft-kd'): temperature T of the soft
    cross-entropy against the task-tuned teacher's logits (BiStil: 2)."""
    task_soft_weight: float = 1.0
    """Phase 2: weight of that soft cross-entropy (labelled positions only)."""
    task_hard_weight: float = 1.0
    """Phase 2: weight of the ordinary cross-entropy on the gold labels (BiStil: none). 1 by measurement:
    on the tr student it beat soft targets alone and T = 1 (docs/distillation.md)."""
    task_hidden_weight: float = 1.0
    """Phase 2: weight of the hidden-state MSE between each student layer and the task-tuned
    teacher layer it was cut from (skipped for a narrower student)."""
    task_attention_weight: float = 1.0
    """Phase 2: weight of the attention loss (`attention_loss`) on the same layer pairs."""

    def phase1(self) -> dict:
        """The fields the student's training reads: what the distill stage's inputs hash (the `task_*`
        fields are phase 2's, read by the task suite)."""
        fields = {k: v for k, v in vars(self).items() if not k.startswith("task_")}
        if not self.ffn_size:  # the teacher's FFN: the sample is unused (and builds made before it stay valid)
            del fields["ffn_size"], fields["ffn_sample"]
        return fields

    def check(self) -> list[str]:
        from polyglot_kd.data.catalogs import check_names

        problems = check_names(self.mixed_domains, "distill.mixed_domains")
        if not self.task_temperature > 0:
            problems.append(f"distill.task_temperature: {self.task_temperature} must be > 0")
        for key in ("task_soft_weight", "task_hard_weight", "task_hidden_weight", "task_attention_weight"):
            if getattr(self, key) < 0:
                problems.append(f"distill.{key}: {getattr(self, key)} must be >= 0")
        if self.task_soft_weight + self.task_hard_weight + self.task_hidden_weight + self.task_attention_weight <= 0:
            problems.append("distill: every task_*_weight is 0: phase 2 has nothing to learn")
        if self.layer_selection not in LAYER_SELECTIONS:
            problems.append(f"distill.layer_selection: {self.layer_selection!r} is not one of {list(LAYER_SELECTIONS)}")
        if self.layer_selection == "list" and not self.layers:
            problems.append("distill.layers: layer_selection 'list' needs a non-empty list of teacher layers")
        if self.layer_selection != "list" and self.student_layers < 1:
            problems.append(f"distill.student_layers: {self.student_layers} must be >= 1")
        for key in ("steps", "batch_size", "max_length", "grad_accum", "checkpoint_every", "eval_items"):
            if getattr(self, key) < 1:
                problems.append(f"distill.{key}: {getattr(self, key)} must be >= 1")
        if self.width_init not in ("svd", "select"):
            problems.append(f"distill.width_init: {self.width_init!r} is not one of ['svd', 'select']")
        if self.embedding_rank < 0:
            problems.append(f"distill.embedding_rank: {self.embedding_rank} must be >= 0 (0 keeps the full embedding)")
        if self.ffn_size < 0:
            problems.append(f"distill.ffn_size: {self.ffn_size} must be >= 0 (0 keeps the teacher's inner size)")
        if self.ffn_sample < 1:
            problems.append(f"distill.ffn_sample: {self.ffn_sample} must be >= 1")
        if self.hidden_size < 0:
            problems.append(f"distill.hidden_size: {self.hidden_size} must be >= 0 (0 keeps the teacher's width)")
        for key, loss in (("pooled_loss", "pooled"), ("attention_loss", "attention")):
            kinds = LOSSES.info(loss)["kinds"]
            if getattr(self, key) not in kinds:
                problems.append(f"distill.{key}: {getattr(self, key)!r} is not one of {list(kinds)}")
        if self.pooled_weight + self.hidden_weight + self.attention_weight + self.contrastive_weight <= 0:
            problems.append("distill: every loss weight is 0: nothing to learn")
        if not self.contrastive_temperature > 0:
            problems.append(f"distill.contrastive_temperature: {self.contrastive_temperature} must be > 0")
        if not self.lr > 0:
            problems.append(f"distill.lr: {self.lr} must be > 0")
        return problems
