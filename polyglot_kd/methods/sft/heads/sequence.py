"""Sequence(-pair) classification (XNLI, PAWS-X): one label per example, from the model's pooled output."""

from __future__ import annotations

import torch

from polyglot_kd.engine.batching import inference_batches
from polyglot_kd.methods.sft.loop import autocast

AUTO_CLASS = "AutoModelForSequenceClassification"
KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def featurize(examples: list[dict], tokenizer, task, max_length: int, train: bool = False) -> list[dict]:
    """Tokenise text (and text_pair), cutting the longer of the two first when too long."""
    label2id = {label: i for i, label in enumerate(task.labels)}
    pairs = [ex.get("text_pair") for ex in examples]
    enc = tokenizer([ex["text"] for ex in examples], pairs if any(p is not None for p in pairs) else None,
                    truncation=True, max_length=max_length)
    features = []
    for i, ex in enumerate(examples):
        feature = {k: enc[k][i] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
        feature["labels"] = label2id[ex["label"]]
        features.append(feature)
    return features


@torch.inference_mode()
def predict(model, features: list[dict], labels: tuple[str, ...], batch_size: int, pad_id: int) -> list[str]:
    device = next(model.parameters()).device
    out: list[str] = [""] * len(features)
    for idx, batch in inference_batches(features, batch_size, pad_id, KEYS[:3]):
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device):
            best = model(**batch).logits.argmax(-1).cpu().tolist()
        for row, i in enumerate(idx):
            out[i] = labels[best[row]]
    return out


def evaluate(model, task, examples: list[dict], features: list[dict], batch_size: int, pad_id: int) -> dict:
    predicted = predict(model, features, task.labels, batch_size, pad_id)
    return task.metrics([ex["label"] for ex in examples], predicted)
