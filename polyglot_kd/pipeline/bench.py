"""Benchmarks that print measured figures (never asserted in unit tests)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path



from polyglot_kd.methods.trim import vocab as trimming
from polyglot_kd.pipeline.build import Build
from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import corpora
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import load_tokenizer, parameter_count
from polyglot_kd.sources.teacher import resolve_teacher

PEER_SECONDS = {"TextPruner": 7.6, "vocabtrimmer": 39.0}  # the foundation issue's figures, same machine size
DRAWN_BATCHES = 2000  # distillation batches the count benchmark draws per run


def trim_benchmark(config: LanguageConfig, repeats: int = 3) -> dict:
    """Cold-cache end-to-end trimming (load, count, select, rewrite, save) and counting throughput."""
    from polyglot_kd.pipeline.stages import trim

    resolve_teacher(config.teacher)  # conversion is a one-off, not part of trimming
    counting = corpora.train_text(config).counting
    texts = counting["source"] + counting["target"]
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

    from polyglot_kd.core.pooling import encode
    from polyglot_kd.core.loading import load_model_and_tokenizer
    from polyglot_kd.pipeline.stages.evaluate import models_to_evaluate

    texts = corpora.dev_set(config).target[:sentences]
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


def stack_benchmark(config: LanguageConfig, stacked_dir: Path, items: int = 1000, repeats: int = 3) -> dict:
    """Parameters and encoding throughput of a stacked model's MT route against the teacher and the
    stacked model's backbone, all encoding the same held-out target-language verses (length-sorted
    batches of 64, as the evaluation does)."""
    import torch

    from polyglot_kd.core.pooling import encode
    from polyglot_kd.core.loading import load_model_and_tokenizer
    from polyglot_kd.methods.stacking.model import StackedModel

    texts = next(iter(corpora.test_sets(config, items).values())).target
    stacked = StackedModel.load(stacked_dir)
    teacher, teacher_tok = load_model_and_tokenizer(resolve_teacher(config.teacher))
    rows = {
        "teacher": (parameter_count(teacher), lambda: encode(teacher, teacher_tok, texts)),
        "backbone": (stacked.route_parameters(config.source), lambda: encode(stacked.backbone, stacked.tokenizer, texts)),
        "stacked": (stacked.route_parameters(), lambda: stacked.encode(texts, stacked.info.language)),
    }
    results = {}
    for name, (params, run) in rows.items():
        run()  # warm-up
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        results[name] = {"params": params, "sentences_per_second": len(texts) / statistics.median(seconds)}
    base = results["teacher"]
    print(f"{len(texts)} {config.code} test verses, median of {repeats}, {torch.get_num_threads()} threads")
    print("| model | params | x teacher | sentences/s | x teacher |\n|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['params'] / 1e6:.2f}M | {r['params'] / base['params']:.3f} | "
              f"{r['sentences_per_second']:.1f} | {r['sentences_per_second'] / base['sentences_per_second']:.2f} |")
    return results


def embed_init_benchmark(config: LanguageConfig, workdir: Path, items: int = 1000, repeats: int = 3) -> dict:
    """Fertility (tokens per word) of the embed-init tokenizer against the teacher's on held-out text,
    and the encoding speed of the embed-init model against the teacher, side by side in one run
    (same 12 layers: the speed-up is the shorter sequences)."""
    import torch

    from polyglot_kd.pipeline import speed

    from polyglot_kd.methods.embed_init import target_tokenizer

    model_dir = Build(config, Path(workdir) / config.code).model_dir("embed-init")
    if model_dir is None:
        raise PolyglotError(f"no finished embed-init stage under {Path(workdir) / config.code}: run "
                            f"polyglot-kd build {config.code} --stages trim,embed-init")
    teacher_dir = resolve_teacher(config.teacher)
    teacher_tok, new_tok = load_tokenizer(teacher_dir), load_tokenizer(model_dir)
    sets = corpora.test_sets(config, items)
    result = {"fertility": {}}
    print(f"tokens per word, teacher's tokenizer ({len(teacher_tok):,} pieces) vs embed-init's ({len(new_tok):,}):")
    for name, data in sets.items():
        for lang, texts in ((config.code, data.target), (config.source, data.source)):
            old, new = target_tokenizer.fertility(teacher_tok, texts), target_tokenizer.fertility(new_tok, texts)
            result["fertility"][f"{name}/{lang}"] = {"teacher": old, "embed_init": new}
            print(f"  {name:20} {lang}: {old:.3f} -> {new:.3f} ({new / old:.2f}x)")
    test = next(iter(sets.values()))  # the held-out verses
    timing = speed.side_by_side(model_dir, teacher_dir, test.target, rounds=repeats, prefix=config.eval.prefix)
    result["speed"] = {"model": timing.model_per_second, "teacher": timing.teacher_per_second}
    print(f"encoding {len(test.target)} held-out {config.code} verses, batch 64, {torch.get_num_threads()} threads, "
          f"side by side, best of {repeats} rounds per batch:")
    print(f"  teacher     {timing.teacher_per_second:8.1f} sentences/s")
    print(f"  embed-init  {timing.model_per_second:8.1f} sentences/s  "
          f"{timing.model_per_second / timing.teacher_per_second:.2f}x the teacher")
    return result


def repeated_pairs(source: list[str], target: list[str], size: int, seed: int = 0):
    """`size` pairs drawn from the given ones: whole passes over them, each in a new shuffled order."""
    import random

    rng = random.Random(seed)
    order = list(range(len(source)))
    made = 0
    while made < size:
        rng.shuffle(order)
        for i in order[: size - made]:
            yield source[i], target[i]
        made += min(len(order), size - made)


def _in_child(function: str, *args) -> dict:
    """`polyglot_kd.pipeline.bench.<function>(*args)` in a fresh Python process (so the peak memory it
    reports is its own); arguments and result travel as JSON."""
    code = ("import json, sys\n"
            f"from polyglot_kd.pipeline.bench import {function}\n"
            f"print(json.dumps({function}(*json.loads(sys.argv[1]))))\n")
    done = subprocess.run([sys.executable, "-c", code, json.dumps([str(a) if isinstance(a, Path) else a for a in args])],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"benchmark child {function}{args} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def batches_here(mode: str, path: str, rows: int, steps: int, batch_size: int) -> dict:
    """Draw `steps` distillation batches (`BilingualBatches`) over the first `rows` pairs of a pairs file:
    'arrow' from the memory-mapped file (what the distill stage trains from), 'lists' from lists in memory."""
    import resource

    from polyglot_kd.data.arrow_pairs import PairFile
    from polyglot_kd.data.bible import ParallelSet
    from polyglot_kd.methods.bistil.objective import BilingualBatches

    before = _status_mib("RssAnon")
    pairs = PairFile(Path(path), rows=rows)
    if mode == "lists":
        pairs = ParallelSet("train", list(pairs.dataset["source"]), list(pairs.dataset["target"]))
    start = time.perf_counter()
    batches = BilingualBatches(pairs, batch_size, seed=0)
    ready = time.perf_counter() - start
    peak, characters = _status_mib("RssAnon"), 0
    for b in range(steps):
        characters += sum(map(len, batches(b)[1]))
        peak = max(peak, _status_mib("RssAnon"))
    return {"mode": mode, "pairs": len(pairs), "steps": steps, "setup_seconds": ready,
            "seconds_per_batch": (time.perf_counter() - start - ready) / steps, "characters": characters,
            "anon_before_mib": before, "peak_anon_mib": peak,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def count_here(mode: str, path: Path, tokenizer_dir: Path, rows: int) -> dict:
    """Count the tokens of a pairs file's first `rows` pairs: 'arrow' reads the memory-mapped file batch
    by batch, 'lists' first loads every sentence into lists."""
    import resource

    from polyglot_kd.data.arrow_pairs import first_rows, open_pairs

    tokenizer = load_tokenizer(tokenizer_dir)
    dataset = first_rows(open_pairs(path), rows)
    before = _status_mib("RssAnon")
    peak_anon = [before]

    def sampled(batches):  # the process's own (anonymous) memory after each batch: mapped file pages excluded
        for batch in batches:
            yield batch
            peak_anon[0] = max(peak_anon[0], _status_mib("RssAnon"))

    def column(name: str):
        return (b[name] for b in dataset.iter(batch_size=2000))

    start = time.perf_counter()
    if mode == "arrow":
        counts = sum(trimming.count_token_batches(tokenizer, sampled(column(c)), desc=c) for c in ("source", "target"))
    else:
        texts = {c: list(dataset[c]) for c in ("source", "target")}
        peak_anon[0] = max(peak_anon[0], _status_mib("RssAnon"))
        counts = sum(trimming.count_token_batches(tokenizer, sampled(trimming.text_batches(texts[c])), desc=c)
                     for c in texts)
    seconds = time.perf_counter() - start
    return {"mode": mode, "pairs": len(dataset), "tokens": int(counts.sum()), "seconds": seconds,
            "anon_before_mib": before, "peak_anon_mib": peak_anon[0],
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def joined_pairs(source: list[str], target: list[str], size: int, seed: int = 0):
    """`size` distinct pairs, each two real pairs joined side by side, so that a corpus layer that drops
    repeated pairs keeps them all: pass p over the pairs (in one shuffled order) joins the k-th to the
    (k + p + 1)-th, which no other pass does (up to n (n - 1) pairs from n)."""
    import random

    n = len(source)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    for m in range(size):
        first, second = order[m % n], order[(m % n + m // n + 1) % n]
        yield f"{source[first]} {source[second]}", f"{target[first]} {target[second]}"


def corpus_here(mode: str, tsv: Path, code: str, folder: Path, tokenizer_dir: Path) -> dict:
    """The corpus layer on a user's TSV of pairs (the train role; the Bible's dev and test sets held out
    of it), then the trim stage's token counting over it: 'arrow' streams it to the cached files
    (`corpora.train_files`) and counts their memory-mapped columns, 'lists' reads it into lists
    (`corpora.train_text`) and counts those. Own memory is sampled every 10 ms by a thread."""
    import threading

    from polyglot_kd.config import load_language

    config = load_language(code, {"corpus": {"embedded": ["dev", "test"],
                                             "sources": [{"kind": "tsv", "path": str(tsv), "role": "train"}]}})
    tokenizer = load_tokenizer(tokenizer_dir)
    corpora.test_sets(config)  # the held-out sets loaded before the baseline, as both modes need them
    before, peak, done = _status_mib("RssAnon"), [0.0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _status_mib("RssAnon"))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    train = corpora.train_files(config, Path(folder)) if mode == "arrow" else corpora.train_text(config)
    read = time.perf_counter() - start
    counts = sum(trimming.count_tokens(tokenizer, train.counting[side], desc=side) for side in ("source", "target"))
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return {"mode": mode, "pairs": len(train.pairs), "tokens": int(counts.sum()), "read_seconds": read,
            "seconds": seconds, "anon_before_mib": before, "peak_anon_mib": max(peak[0], _status_mib("RssAnon"))}


def corpus_benchmark(config: LanguageConfig, pairs: int = 1_000_000) -> list[dict]:
    """The corpus layer at scale: a TSV of `pairs` distinct pairs (real training pairs joined two by two,
    the output says so) read as a user's train source, streamed to Arrow and counted, against read into
    lists and counted; each in a fresh process, the streamed one twice (written, then found cached)."""
    import shutil

    from polyglot_kd.core.paths import cache_dir

    train = corpora.train_text(config).pairs
    if pairs > len(train) * (len(train) - 1):
        raise PolyglotError(f"--pairs: {pairs:,} is more than the {len(train) * (len(train) - 1):,} distinct pairs that "
                            f"{len(train):,} {config.code} training pairs join into; expected at most that")
    folder = cache_dir() / "bench"
    tsv = folder / f"{config.code}-{pairs}-joined-pairs.tsv"
    if not tsv.is_file():
        tsv.parent.mkdir(parents=True, exist_ok=True)
        partial = tsv.with_name(tsv.name + ".tmp")
        try:
            with partial.open("w", encoding="utf-8") as f:
                for s, t in joined_pairs(train.source, train.target, pairs):
                    f.write(f"{s}\t{t}\n")
        except BaseException:
            partial.unlink(missing_ok=True)  # an interrupted write leaves no half file
            raise
        partial.replace(tsv)
    print(f"corpus: {pairs:,} distinct pairs, each two of the {len(train):,} {config.source}-{config.code} training "
          f"pairs joined ({tsv}, {tsv.stat().st_size / 2**20:.0f} MiB), read as a tsv train source; "
          f"{os.cpu_count()} cores")
    streamed = folder / f"{config.code}-{pairs}-corpus"
    shutil.rmtree(streamed, ignore_errors=True)
    tokenizer_dir = resolve_teacher(config.teacher)
    runs = [_in_child("corpus_here", mode, tsv, config.code, streamed, tokenizer_dir)
            for mode in ("arrow", "arrow", "lists")]
    print("| corpus layer | pairs kept | tokens | read seconds | read + count seconds | own memory before | "
          "peak own memory | growth |")
    print("|---|---|---|---|---|---|---|---|")
    for r, what in zip(runs, ("streamed to Arrow, then counted (first run)", "the same, files cached",
                              "read into lists, then counted")):
        print(f"| {what} | {r['pairs']:,} | {r['tokens']:,} | {r['read_seconds']:.1f} | {r['seconds']:.1f} | "
              f"{r['anon_before_mib']:.0f} MiB | {r['peak_anon_mib']:.0f} MiB | "
              f"+{r['peak_anon_mib'] - r['anon_before_mib']:.0f} MiB |")
    return runs


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def count_benchmark(config: LanguageConfig, pairs: int = 1_000_000, small: int = 100_000) -> list[dict]:
    """Counting throughput and peak memory on a corpus of `pairs` pairs: the language's training pairs
    repeated in new shuffled orders to reach the size (the output says so), written once as a
    memory-mapped Arrow file. Counted from the file batch by batch at `small` and at `pairs` pairs (the
    peak should not grow with the corpus), and from lists in memory at `pairs` for comparison; each run
    in a fresh process, so each peak is its own."""
    from polyglot_kd.core.paths import cache_dir
    from polyglot_kd.data.arrow_pairs import write_pairs

    train = corpora.train_text(config).pairs
    path = cache_dir() / "bench" / f"{config.code}-{pairs}-pairs.arrow"
    if not path.is_file():
        start = time.perf_counter()
        write_pairs(repeated_pairs(train.source, train.target, pairs), path)
        print(f"wrote {pairs:,} pairs to {path} ({path.stat().st_size / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - start:.1f} s")
    print(f"corpus: the {len(train):,} {config.source}-{config.code} training pairs repeated in shuffled order to "
          f"{pairs:,} pairs ({pairs / len(train):.1f} passes); both sides counted; {os.cpu_count()} cores")
    tokenizer_dir = resolve_teacher(config.teacher)
    runs = [_in_child("count_here", mode, path, tokenizer_dir, rows)
            for mode, rows in (("arrow", small), ("arrow", pairs), ("lists", pairs))]
    print("| read from | pairs | tokens | seconds | tokens/s | pairs/s | own memory before | peak own memory | "
          "peak RSS (with mapped file pages) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        where = "memory-mapped Arrow, batch by batch" if r["mode"] == "arrow" else "lists in memory"
        print(f"| {where} | {r['pairs']:,} | {r['tokens']:,} | {r['seconds']:.1f} | {r['tokens'] / r['seconds']:,.0f} | "
              f"{r['pairs'] / r['seconds']:,.0f} | {r['anon_before_mib']:.0f} MiB | {r['peak_anon_mib']:.0f} MiB | "
              f"{r['peak_rss_mib']:.0f} MiB |")
    print("own memory: the process's anonymous resident memory (RssAnon), sampled after every batch")
    steps, batch = DRAWN_BATCHES, config.distill.batch_size
    drawn = [_in_child("batches_here", mode, path, rows, steps, batch)
             for mode, rows in (("arrow", small), ("arrow", pairs), ("lists", pairs))]
    print(f"\ndistillation batches ({steps:,} of {batch} pairs, as the distill stage draws them):")
    print("| drawn from | pairs | setup seconds | ms per batch | own memory before | peak own memory | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for r in drawn:
        where = "memory-mapped Arrow (the distill stage)" if r["mode"] == "arrow" else "lists in memory"
        print(f"| {where} | {r['pairs']:,} | {r['setup_seconds']:.1f} | {1000 * r['seconds_per_batch']:.2f} | "
              f"{r['anon_before_mib']:.0f} MiB | {r['peak_anon_mib']:.0f} MiB | {r['peak_rss_mib']:.0f} MiB |")
    return runs + drawn
