"""Benchmarks that print measured figures (never asserted in unit tests)."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path



from polyglot_kd import trimming
from polyglot_kd.build import Build
from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import bible
from polyglot_kd.modeling import load_tokenizer
from polyglot_kd.sources.teacher import resolve_teacher

PEER_SECONDS = {"TextPruner": 7.6, "vocabtrimmer": 39.0}  # the foundation issue's figures, same machine size


def trim_benchmark(config: LanguageConfig, repeats: int = 3) -> dict:
    """Cold-cache end-to-end trimming (load, count, select, rewrite, save) and counting throughput."""
    from polyglot_kd.stages import trim

    resolve_teacher(config.teacher)  # conversion is a one-off, not part of trimming
    texts = bible.verses(config.corpus.source_bible, "train") + bible.verses(config.corpus.bible, "train")
    tokenizer = load_tokenizer(resolve_teacher(config.teacher))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        counts = trimming.count_tokens(tokenizer, texts)
        rates.append(counts.sum() / (time.perf_counter() - start))
    print(f"counting: {len(texts):,} lines, {int(counts.sum()):,} tokens, "
          f"{statistics.median(rates):,.0f} tokens/s (median of {repeats}, {os.cpu_count()} cores)")

    totals = []
    os.environ["POLYGLOT_KD_NO_COUNT_CACHE"] = "1"
    try:
        for i in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                metrics = trim.run(Build(config, Path(tmp)), Path(tmp) / "out")
            totals.append(metrics["trim_seconds"])
            phases = ", ".join(f"{k} {v:.2f}s" for k, v in metrics["timings"].items() if k != "coverage")
            print(f"run {i + 1}: trimming end to end {metrics['trim_seconds']:.2f} s ({phases}); "
                  f"vocab {metrics['vocab_after']:,}, params x{metrics['param_ratio']:.3f}")
    finally:
        del os.environ["POLYGLOT_KD_NO_COUNT_CACHE"]
    best = statistics.median(totals)
    print(f"trimming {config.code}: median {best:.2f} s over {repeats} cold-cache runs")
    for peer, seconds in PEER_SECONDS.items():
        print(f"  vs {peer} ({seconds} s, the issue's figure on this machine size): {seconds / best:.1f}x faster")
    return {"tokens_per_second": statistics.median(rates), "trim_seconds": best}


def encode_benchmark(config: LanguageConfig, workdir: Path, sentences: int = 512, batch_size: int = 64,
                     repeats: int = 3) -> dict[str, float]:
    """Sentences/s of the teacher and every finished model of a build, measured side by side: same
    sentences (dev verses of the target language), same batch size, same threads, runs interleaved."""
    import torch

    from polyglot_kd.embed import encode
    from polyglot_kd.modeling import load_model_and_tokenizer
    from polyglot_kd.stages.evaluate import models_to_evaluate

    texts = bible.verses(config.corpus.bible, "dev")[:sentences]
    models = {name: load_model_and_tokenizer(path) for name, path in models_to_evaluate(Build(config, Path(workdir) / config.code)).items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, (model, tok) in models.items():
            start = time.perf_counter()
            encode(model, tok, texts, batch_size=batch_size)
            times[name].append(time.perf_counter() - start)
    rates = {name: len(texts) / statistics.median(t) for name, t in times.items()}
    print(f"encoding {len(texts)} {config.code} dev verses, batch {batch_size}, {torch.get_num_threads()} threads, "
          f"median of {repeats} interleaved runs:")
    for name, rate in rates.items():
        print(f"  {name:16} {rate:8.1f} sentences/s  {rate / rates['teacher']:.2f}x the teacher")
    return rates
