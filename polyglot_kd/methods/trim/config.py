"""Settings of vocabulary trimming."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyglot_kd.core.errors import did_you_mean
from polyglot_kd.data.wordlists import is_wordlist_name

TRIM_RULES = ("top_n", "min_frequency", "threshold")


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
    keep_characters: bool = True
    """Also keep every teacher piece for a letter of the texts' scripts, a digit, punctuation mark,
    symbol, currency sign or emoji, and the most frequent all-digit pieces: the trimmed tokenizer
    then turns no text of those scripts into <unk> where the teacher does not (false: only the
    characters the training texts contain)."""

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
                if not is_wordlist_name(name):
                    problems.append(f"trim.{key}: {name!r} is none of 'wordfreq', 'wordfreq:<code>', "
                                    "'hunspell:<debian package>'")
        return problems
