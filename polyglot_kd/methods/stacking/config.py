"""Settings of MT-encoder stacking (stage 1, self-distillation)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    states at the entry point, on init_items verses; the better start at layer 0, docs/stacking.md) or 'random'."""
    init_items: int = 2000
    """Training verses the least-squares initialisation reads."""
    student_side: str = "target"
    """Side of the parallel verses the stacked model reads: 'target' (the language of this build) or
    'source' (English); the MT encoder must read its language."""
    teacher_sides: list[str] = field(default_factory=lambda: ["source"])
    """Sides the backbone reads as the teacher (the loss averages over them): 'source' (English), 'target'."""
    steps: int = 3000
    """Training steps (a max_minutes budget may stop training earlier)."""
    max_minutes: float = 0.0
    """Wall-clock budget of the training loop in minutes; 0 (the default): no clock, training stops by
    `steps`, so the same command gives the same model on any machine. A run the budget cuts short logs a
    WARNING and its manifest says "trained N of M steps (time budget)"."""
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
