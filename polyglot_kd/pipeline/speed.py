"""Encoding throughput of a model against its teacher, measured side by side (at release, and every
evaluated model at once in the eval stage: `beside_teacher`).

Both models run in this process with the same thread count, batch size, truncation and sentences.
The models take turns batch by batch (model then teacher, then teacher then model on the next), so a
machine that gets busier during the measurement slows both alike, and each batch's time is its best
over the rounds (as `timeit` does), which drops the spikes of other processes on a shared machine.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from polyglot_kd.core.loading import load_model_and_tokenizer
from polyglot_kd.core.pooling import encode
from polyglot_kd.methods.stacking import model as stacking
from polyglot_kd.reports.model_card import Speed

log = logging.getLogger(__name__)


def side_by_side(model_dir: Path, teacher_dir: Path, texts: list[str], *, batch_size: int = 64,
                 max_length: int = 128, rounds: int = 3, prefix: str = "", language: str = "") -> Speed:
    """Sentences per second of the model at `model_dir` and of the teacher on the same `texts`; a stacked
    model is timed on its route for `language` (`encoder_of`)."""
    kwargs = dict(language=language, batch_size=batch_size, max_length=max_length, prefix=prefix)
    encoders = {name: encoder_of(path, **kwargs) for name, path in (("model", model_dir), ("teacher", teacher_dir))}
    rate = rates(encoders, texts, batch_size=batch_size, rounds=rounds)
    log.info("encoding %d sentences: model %.1f/s, teacher %.1f/s (%.2fx)", len(texts), rate["model"],
             rate["teacher"], rate["model"] / rate["teacher"])
    return Speed(sentences=len(texts), batch_size=batch_size, threads=torch.get_num_threads(), max_length=max_length,
                 model_per_second=rate["model"], teacher_per_second=rate["teacher"], rounds=rounds)


def rates(encoders: dict[str, Callable[[list[str]], object]], texts: list[str], *, batch_size: int = 64,
          rounds: int = 3) -> dict[str, float]:
    """Sentences per second of each encoder (texts -> embeddings) on the same batches, taking turns:
    the order of the encoders rotates from batch to batch."""
    if not texts:
        raise ValueError("no sentences to time")
    ordered = sorted(texts, key=len)  # the batches encode() itself would form
    batches = [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
    for run in encoders.values():  # warm-up: first calls allocate buffers and pick kernels
        run(batches[0][:8])
    names = list(encoders)
    best = {name: [float("inf")] * len(batches) for name in names}
    turn = 0
    for _ in tqdm(range(rounds), desc=f"timing {', '.join(names)}", unit="round", leave=False):
        for b, batch in enumerate(batches):
            order = names[turn % len(names):] + names[:turn % len(names)]
            turn += 1
            for name in order:
                start = time.perf_counter()
                encoders[name](batch)
                best[name][b] = min(best[name][b], time.perf_counter() - start)
    return {name: len(texts) / sum(seconds) for name, seconds in best.items()}


def encoder_of(path: Path, *, language: str, batch_size: int, max_length: int, prefix: str) -> Callable:
    """texts -> embeddings of the model at `path`; a stacked model reads them through its route for
    `language` (the target's: MT encoder, then the backbone), as the eval stage scores it."""
    if stacking.is_stacked(path):
        model = stacking.StackedModel.load(path)
        # the prefix is a backbone convention ("query: "); the MT route reads plain sentences
        return functools.partial(model.encode, language=language, batch_size=batch_size, max_length=max_length,
                                 prefix="" if language == model.info.language else prefix)
    return functools.partial(encode, *load_model_and_tokenizer(path), batch_size=batch_size, max_length=max_length,
                             prefix=prefix)


def beside_teacher(paths: dict[str, Path], texts: list[str], *, language: str, batch_size: int, max_length: int,
                   prefix: str, rounds: int) -> dict:
    """Every model of `paths` (one named 'teacher') timed in one run, taking turns on the same batches:
    the setting, each one's sentences per second and its speed-up over the teacher."""
    encoders = {name: encoder_of(path, language=language, batch_size=batch_size, max_length=max_length, prefix=prefix)
                for name, path in paths.items()}
    per_second = rates(encoders, texts, batch_size=batch_size, rounds=rounds)
    speedups = {name: 1.0 if name == "teacher" else rate / per_second["teacher"] for name, rate in per_second.items()}
    log.info("speed-up over the teacher on %d sentences: %s", len(texts), {k: round(v, 2) for k, v in speedups.items()})
    return {"sentences": len(texts), "batch_size": batch_size, "threads": torch.get_num_threads(),
            "max_length": max_length, "rounds": rounds, "sentences_per_second": per_second, "speedup": speedups}


def beside_model(name: str, run: Callable[[list[str]], object], model, tokenizer, teacher_dir: Path, datasets,
                 speed_texts: list[str], *, batch_size: int, max_length: int, prefix: str, rounds: int) -> dict:
    """An export of a model (`run`: texts -> normalised embeddings) scored on `datasets` (retrieval)
    and timed in one run beside the model it came from and the teacher."""
    from polyglot_kd.tasks.retrieval import accuracy

    scores = {d.name: accuracy(run(d.source), run(d.target)) for d in datasets}
    kwargs = dict(batch_size=batch_size, max_length=max_length, prefix=prefix)
    teacher = load_model_and_tokenizer(teacher_dir)
    per_second = rates({name: run, "model": functools.partial(encode, model, tokenizer, **kwargs),
                        "teacher": functools.partial(encode, *teacher, **kwargs)},
                       speed_texts, batch_size=batch_size, rounds=rounds) if speed_texts else {}
    log.info("%s: %s; sentences/s %s", name, {k: round(v["mean"], 4) for k, v in scores.items()}, per_second)
    return {"scores": scores, "sentences_per_second": per_second,
            "speedup": per_second[name] / per_second["teacher"] if per_second else None,
            "speedup_vs_model": per_second[name] / per_second["model"] if per_second else None}
