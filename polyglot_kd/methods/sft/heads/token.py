"""Token classification (POS, PAN-X, UDPOS): word labels sit on each word's first subword."""

from __future__ import annotations

import logging

import torch

from polyglot_kd.engine.batching import inference_batches
from polyglot_kd.methods.sft.loop import autocast

log = logging.getLogger(__name__)

AUTO_CLASS = "AutoModelForTokenClassification"
KEYS = ("input_ids", "attention_mask", "labels")


def featurize(examples: list[dict], tokenizer, task, max_length: int, train: bool = False) -> list[dict]:
    """input_ids and labels (-100 except on every word's first subword); words cut off by
    `max_length` or that tokenise to nothing get no prediction and count as wrong."""
    label2id = {label: i for i, label in enumerate(task.labels)}
    enc = tokenizer([ex["words"] for ex in examples], is_split_into_words=True, truncation=True,
                    max_length=max_length)
    features = []
    for i, ex in enumerate(examples):
        word_ids = enc.word_ids(i)
        first = [-1] * len(ex["words"])
        targets = [-100] * len(word_ids)
        previous = None
        for position, word in enumerate(word_ids):
            if word is not None and word != previous:
                first[word] = position
                targets[position] = label2id[ex["labels"][word]]
            previous = word
        features.append({"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                         "labels": targets, "first": first})
    return features


@torch.inference_mode()
def predict(model, features: list[dict], labels: tuple[str, ...], batch_size: int, pad_id: int) -> list[list]:
    """Per example, the predicted label of every word (None where the word had no subword)."""
    device = next(model.parameters()).device
    out: list[list] = [[] for _ in features]
    for idx, batch in inference_batches(features, batch_size, pad_id, KEYS[:2]):
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device):
            logits = model(**batch).logits
        best = logits.argmax(-1).cpu().tolist()
        for row, i in enumerate(idx):
            out[i] = [labels[best[row][p]] if p >= 0 else None for p in features[i]["first"]]
    missing = sum(p is None for ps in out for p in ps)
    if missing:
        log.info("%d words had no subword within max_length; counted as wrong", missing)
    return out


def evaluate(model, task, examples: list[dict], features: list[dict], batch_size: int, pad_id: int) -> dict:
    """The task's metrics on `examples` (gold word labels vs predictions)."""
    predicted = predict(model, features, task.labels, batch_size, pad_id)
    return task.metrics([ex["labels"] for ex in examples], predicted)
