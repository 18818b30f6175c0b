"""Encoding throughput of a model against its teacher, measured side by side.

Both models run in this process with the same thread count, batch size, truncation and sentences;
timed rounds alternate between them (model, teacher, then teacher, model, ...) so that a machine
that gets busier or quieter during the measurement affects both alike. The median round counts.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from polyglot_kd.embed import encode
from polyglot_kd.model_card import Speed
from polyglot_kd.modeling import load_model_and_tokenizer

log = logging.getLogger(__name__)


def side_by_side(model_dir: Path, teacher_dir: Path, texts: list[str], *, batch_size: int = 64,
                 max_length: int = 128, rounds: int = 3, prefix: str = "") -> Speed:
    """Sentences per second of the model at `model_dir` and of the teacher on the same `texts`."""
    if not texts:
        raise ValueError("no sentences to time")
    models = {"model": load_model_and_tokenizer(model_dir), "teacher": load_model_and_tokenizer(teacher_dir)}
    kwargs = dict(batch_size=batch_size, max_length=max_length, prefix=prefix)
    for model, tokenizer in models.values():  # warm-up: first calls allocate buffers and pick kernels
        encode(model, tokenizer, texts[:batch_size], **kwargs)
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for r in tqdm(range(rounds), desc="timing model vs teacher", unit="round", leave=False):
        for name in (list(models) if r % 2 == 0 else list(models)[::-1]):
            model, tokenizer = models[name]
            start = time.perf_counter()
            encode(model, tokenizer, texts, **kwargs)
            seconds[name].append(time.perf_counter() - start)
    rate = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    log.info("encoding %d sentences: model %.1f/s, teacher %.1f/s (%.2fx)", len(texts), rate["model"],
             rate["teacher"], rate["model"] / rate["teacher"])
    return Speed(sentences=len(texts), batch_size=batch_size, threads=torch.get_num_threads(), max_length=max_length,
                 model_per_second=rate["model"], teacher_per_second=rate["teacher"])
