"""Extractive question answering (XQuAD, MLQA, TyDiQA-GoldP): predict the answer's start and end
subwords in the context. Long contexts are cut into overlapping windows; at test time the best
span over all windows of an example wins (n-best start/end pairs, at most MAX_ANSWER subwords)."""

from __future__ import annotations

import numpy as np
import torch

from polyglot_kd.engine.batching import inference_batches
from polyglot_kd.methods.sft.loop import autocast

AUTO_CLASS = "AutoModelForQuestionAnswering"
KEYS = ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")
MAX_ANSWER = 30  # subwords
N_BEST = 20


def model_kwargs(task) -> dict:
    return {}


def featurize(examples: list[dict], tokenizer, task, max_length: int, train: bool = False) -> list[dict]:
    """Windows of (question, context); training windows carry the answer's subword positions (the
    first token where the answer is not inside the window), test windows the context offsets."""
    enc = tokenizer([ex["question"].lstrip() for ex in examples], [ex["context"] for ex in examples],
                    truncation="only_second", max_length=max_length, stride=max(16, max_length // 4),
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    features = []
    for i, offsets in enumerate(enc["offset_mapping"]):
        example = examples[enc["overflow_to_sample_mapping"][i]]
        sequence_ids = enc.sequence_ids(i)
        feature = {k: enc[k][i] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
        context = [j for j, s in enumerate(sequence_ids) if s == 1]
        if train:
            start_char = example["answers"]["answer_start"][0]
            end_char = start_char + len(example["answers"]["text"][0])
            start = end = 0
            if context and offsets[context[0]][0] <= start_char and offsets[context[-1]][1] >= end_char:
                start = next(j for j in context if offsets[j][1] > start_char)
                end = next(j for j in reversed(context) if offsets[j][0] < end_char)
            feature |= {"start_positions": start, "end_positions": end}
        else:
            feature |= {"example": enc["overflow_to_sample_mapping"][i],
                        "offsets": [tuple(o) if s == 1 else None for o, s in zip(offsets, sequence_ids)]}
        features.append(feature)
    return features


@torch.inference_mode()
def predict(model, examples: list[dict], features: list[dict], batch_size: int, pad_id: int) -> list[str]:
    """The best-scoring answer text of every example."""
    device = next(model.parameters()).device
    best: dict[int, tuple[float, str]] = {}
    for idx, batch in inference_batches(features, batch_size, pad_id, KEYS[:3]):
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device):
            out = model(**batch)
        starts, ends = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
        for row, i in enumerate(idx):
            feature = features[i]
            offsets, context = feature["offsets"], examples[feature["example"]]["context"]
            n = len(offsets)
            for s in np.argsort(starts[row][:n])[::-1][:N_BEST]:
                for e in np.argsort(ends[row][:n])[::-1][:N_BEST]:
                    if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > MAX_ANSWER:
                        continue
                    score = float(starts[row][s] + ends[row][e])
                    if feature["example"] not in best or score > best[feature["example"]][0]:
                        best[feature["example"]] = (score, context[offsets[s][0]:offsets[e][1]])
    return [best.get(i, (0.0, ""))[1] for i in range(len(examples))]


def evaluate(model, task, examples: list[dict], features: list[dict], batch_size: int, pad_id: int) -> dict:
    predicted = predict(model, examples, features, batch_size, pad_id)
    return task.metrics([ex["answers"]["text"] for ex in examples], predicted,
                        language=examples[0].get("language", "en") if examples else "en")
