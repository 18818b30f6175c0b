"""Settings of zero-shot task training (full, LT-SFT, adapters, LT-SFT with task distillation)."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyglot_kd.methods.sft import FINETUNE_METHODS


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
    """bf16 autocast on CPUs with native bf16 (AVX512-BF16, AMX), where it trains faster
    (docs/evaluation.md). A GPU always uses bf16 autocast."""
    freeze_embeddings: bool = True
    """Keep the word embeddings fixed: English training then cannot pull the rows of English
    words away from the target language's, and the largest matrix needs no optimizer state."""

    def check(self) -> list[str]:
        problems = []
        if problem := FINETUNE_METHODS.problem(self.method, "finetune.method"):
            problems.append(problem)
        if not self.seeds:
            problems.append("finetune.seeds: name at least one seed")
        elif bad := [seed for seed in self.seeds if seed < 1]:
            problems.append(f"finetune.seeds: {bad} must be >= 1 (seeds are 1, 2, 3, ...)")
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
