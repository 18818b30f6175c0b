"""Sentence embeddings: mean of the last hidden states over the attention mask, L2-normalised.

Sentences are sorted by length before batching (padding is the main CPU cost; docs/evaluation.md)
and returned in the caller's order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


@torch.inference_mode()
def encode(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = 128,
    prefix: str = "",
    desc: str | None = None,
) -> np.ndarray:
    """L2-normalised mean-pooled embeddings of `texts`, shape (len(texts), hidden), float32."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    batches = range(0, len(order), batch_size)
    for start in tqdm(batches, desc=desc or "encoding", unit="batch", leave=False, disable=desc is None and len(batches) < 20):
        idx = order[start:start + batch_size]
        enc = tokenizer([prefix + texts[i] for i in idx], padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt").to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        pooled = torch.nn.functional.normalize(mean_pool(hidden.float(), enc["attention_mask"]), dim=-1)
        out[idx] = pooled.cpu().numpy()
    return out
