"""Settings of the embedding initialisation for a language-specific tokenizer."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyglot_kd.methods.embed_init import INIT_METHODS

VECTOR_FORMATS = ("auto", "vec", "bin", "colexnet")


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
    warmup_steps: int = 300
    """Steps of embedding warm-up after initialisation: the new embeddings train with the body frozen,
    towards the trimmed model, with the distill stage's word-aligned losses over every layer (what OFA's
    continued pretraining does, briefly); 0 = none (docs/embed_init.md compares the two)."""
    warmup_lr: float = 1e-3
    """Peak learning rate of the warm-up (only embeddings train, so it can be higher than distillation's)."""
    seed: int = 0

    def check(self) -> list[str]:
        problems = []
        if problem := INIT_METHODS.problem(self.method, "embed_init.method"):
            problems.append(problem)
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
        if self.warmup_steps < 0:
            problems.append(f"embed_init.warmup_steps: {self.warmup_steps} must be >= 0 (0 = no warm-up)")
        if not self.warmup_lr > 0:
            problems.append(f"embed_init.warmup_lr: {self.warmup_lr} must be > 0")
        if not self.temperature > 0:
            problems.append(f"embed_init.temperature: {self.temperature} must be > 0")
        if self.bli_pairs not in ("freedict", ""):
            problems.append(f"embed_init.bli_pairs: {self.bli_pairs!r} is not 'freedict' or ''")
        return problems
