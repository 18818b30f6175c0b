"""Trim stage: keep the teacher tokens that English and the target language need.

Each language's token distribution mixes its training verses with a general word list
(`trim.general_weight`), so everyday words outside the Bible's domain stay whole; tokens are then
kept by rule on max(p_source, p_target), plus special tokens, single-character fallbacks and (by
default) every piece for the scripts' letters, digits, symbols and numbers (`methods/trim/characters.py`).
"""

from __future__ import annotations

import logging
from itertools import chain
from pathlib import Path

import numpy as np




from polyglot_kd.methods.trim import characters
from polyglot_kd.methods.trim import vocab as trimming
from polyglot_kd.pipeline.build import MODEL_DIR, Build
from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import corpora, wordlists
from polyglot_kd.data.held_out import held_out_sets
from polyglot_kd.pipeline.checks import corpus_problems
from polyglot_kd.core.loading import load_encoder, load_tokenizer, parameter_count
from polyglot_kd.sources.teacher import resolve_teacher, weights_digest
from polyglot_kd.core.timing import Timer

log = logging.getLogger(__name__)

KEPT_IDS = "kept_ids.npy"  # teacher ids of the kept tokens, in the trimmed model's order


def inputs(build: Build) -> dict:
    c = build.config
    return {"teacher": c.teacher, "teacher_weights": weights_digest(c.teacher), "source": c.source,
            "corpus": corpora.fingerprint(c), "trim": vars(c.trim)}


def preflight(config: LanguageConfig) -> list[str]:
    problems = corpus_problems(config)
    for lang, names in ((config.source, config.trim.source_wordlists), (config.code, config.trim.target_wordlists)):
        problems += [p for name in names if (p := wordlists.check_wordlist(name, lang))]
    return problems


def general_distribution(tokenizer, tokenizer_file: Path, lang: str, names: list[str], size: int) -> np.ndarray:
    """Token distribution of a language's general text, from its word lists (cached)."""
    dist = np.zeros(len(tokenizer))
    for name in names:
        words = wordlists.load(name, lang, size)
        key = [f"{name}\t{lang}\t{trimming.WORDLIST_FORMS}"] + [f"{w}\t{x:.3e}" for w, x in words]
        dist += trimming.cached_counts(tokenizer_file, key,
                                       lambda: trimming.weighted_token_distribution(tokenizer, words))
    return dist / len(names) if names else dist


def corpus_counts(tokenizer, tokenizer_file: Path, texts: list[str], desc: str) -> np.ndarray:
    return trimming.cached_counts(tokenizer_file, texts, lambda: trimming.count_tokens(tokenizer, texts, desc=desc))


def run(build: Build, out: Path) -> dict:
    cfg = build.config
    timer = Timer()
    with timer("load"):
        teacher_dir = resolve_teacher(cfg.teacher)
        tokenizer = load_tokenizer(teacher_dir)
        trimming.tokenizer_kind(tokenizer)
        tok_file = teacher_dir / "tokenizer.json"
        train = corpora.train_files(cfg)
        texts = train.counting  # memory-mapped columns, read a chunk at a time
    with timer("count"):
        counts = {side: corpus_counts(tokenizer, tok_file, t, f"counting {side} tokens") for side, t in texts.items()}
        general = {
            "source": general_distribution(tokenizer, tok_file, cfg.source, cfg.trim.source_wordlists, cfg.trim.wordlist_size),
            "target": general_distribution(tokenizer, tok_file, cfg.code, cfg.trim.target_wordlists, cfg.trim.wordlist_size),
        }
    with timer("select"):
        chars = characters.character_ids(
            tokenizer.backend_tokenizer.get_vocab() if cfg.trim.keep_characters else {},
            trimming.tokenizer_kind(tokenizer), characters.text_scripts(chain(texts["source"], texts["target"])),
            scores=characters.unigram_scores(tokenizer) if cfg.trim.keep_characters else None)
        g = cfg.trim.general_weight
        p = {side: (1 - g) * counts[side] / max(counts[side].sum(), 1) + g * general[side] for side in counts}
        selection = trimming.select_tokens(
            p["source"], p["target"], counts["source"] + counts["target"], cfg.trim.rule,
            top_n=cfg.trim.top_n, threshold=cfg.trim.threshold, min_frequency=cfg.trim.min_frequency,
            always=trimming.special_ids(tokenizer),
            fallback=trimming.fallback_ids(tokenizer, chain(texts["source"], texts["target"])) | chars.all(),
        )
        kept = selection.kept
    log.info("keeping %d of %d tokens (%d by rule %s, %d special, %d fallback characters)", len(kept),
             len(tokenizer), selection.by_rule, cfg.trim.rule, selection.special, selection.fallback)
    with timer("rewrite_and_save"):
        model = load_encoder(teacher_dir)
        params_before = parameter_count(model)
        trimming.trim_model(model, kept, tokenizer)
        model_dir = out / MODEL_DIR
        model.save_pretrained(model_dir, safe_serialization=True)
        trimming.trim_tokenizer(tokenizer, kept, model_dir, source_dir=teacher_dir)
        np.save(out / KEPT_IDS, kept)
    params_after = parameter_count(model)
    trimming_seconds = timer.total()
    with timer("coverage"):
        trimmed_tokenizer = load_tokenizer(model_dir)
        coverage = held_out_coverage(cfg, tokenizer, trimmed_tokenizer, kept)
    return {
        "vocab_before": len(tokenizer),
        "vocab_after": len(trimmed_tokenizer),
        "kept_by_rule": selection.by_rule,
        "kept_special": selection.special,
        "kept_fallback": selection.fallback,
        "kept_characters": chars.counts(),
        "params_before": params_before,
        "params_after": params_after,
        "param_ratio": params_after / params_before,
        "training_lines": sum(map(len, texts.values())),
        **train.record(),
        "training_tokens": int(sum(c.sum() for c in counts.values())),
        "trim_seconds": trimming_seconds,
        "timings": timer.seconds,
        "coverage": coverage,
    }


def held_out_coverage(cfg: LanguageConfig, teacher_tok, trimmed_tok, kept: np.ndarray) -> dict:
    """Share of held-out tokens kept, and tokens per word before/after, on test verses and the UDHR."""
    report = {}
    for name, data in held_out_sets(cfg).items():
        for side, texts in (("source", data.source), ("target", data.target)):
            before = trimming.count_tokens(teacher_tok, texts, desc=f"coverage {name}")
            after = trimming.count_tokens(trimmed_tok, texts, desc=f"coverage {name}")
            words = sum(len(t.split()) for t in texts)
            report[f"{name}/{side}"] = {
                "token_coverage": trimming.coverage(kept, before),
                "tokens_per_word_before": float(before.sum() / words),
                "tokens_per_word_after": float(after.sum() / words),
            }
    return report
