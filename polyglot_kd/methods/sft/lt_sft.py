"""Lottery-Ticket Sparse Fine-Tuning (Ansell et al. 2022), written here.

1. Dense phase: fine-tune body and head for `dense_epochs` (no selection).
2. Mask: the K = density x N body parameters that moved most, |theta - theta_0| (partial sort).
3. Reset the body to theta_0 (the head keeps its dense-phase weights, as a warm start).
4. Sparse phase: `sparse_epochs` more with every body gradient multiplied by the mask and a fresh
   AdamW without weight decay, so unmasked entries stay exactly theta_0; English-dev selection.
5. The body's change is a SparseDiff (indices + values, safetensors) and the head is stored whole;
   the model that is evaluated is rebuilt as theta_0 + SFT, i.e. exactly what is stored.

Where language SFTs for English and every test language ship beside the model, the task SFT is
trained on top of the English one, and testing swaps in the target language's: the two compose
by addition.
"""

from __future__ import annotations

import logging

import torch

from polyglot_kd.core.loading import parameter_count
from polyglot_kd.methods.sft.fit import (FitSetup, Fitted, language_part, prepare,
                                  save_head, split_params)
from polyglot_kd.methods.sft.loop import Phase, run
from polyglot_kd.methods.sft.sparse import SparseDiff

log = logging.getLogger(__name__)


def top_k_masks(moved: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Boolean masks selecting exactly the k largest entries of |moved| across all tensors."""
    names = list(moved)
    flat = torch.cat([moved[n].abs().reshape(-1).float() for n in names])
    k = max(0, min(k, flat.numel()))
    chosen = torch.zeros(flat.numel(), dtype=torch.bool)
    if k:
        chosen[torch.topk(flat, k, sorted=False).indices.cpu()] = True
    masks, start = {}, 0
    for n in names:
        size = moved[n].numel()
        masks[n] = chosen[start:start + size].reshape(moved[n].shape)
        start += size
    return masks


def fit(model, setup: FitSetup) -> Fitted:
    o = setup.options
    prepare(model, o)
    body_module = model.base_model
    body, head = split_params(model, setup.fresh)
    languages = [setup.source_language, *setup.test_languages]
    lang_paths = language_part(setup.model_dir, "sft", languages)
    lang_sfts = {lang: SparseDiff.load(p) for lang, p in lang_paths.items()} if lang_paths else {}
    if lang_sfts:
        lang_sfts[setup.source_language].apply(body_module)
    maskable = {n: p for n, p in body.items() if p.requires_grad}
    theta0 = {n: p.detach().clone() for n, p in maskable.items()}

    run(model, Phase(o.dense_epochs, o.learning_rate, setup.batches, None, head=frozenset(head),
                     head_learning_rate=o.head_learning_rate, seed=setup.seed, desc="LT-SFT dense phase",
                     loss=setup.loss), setup.device)
    k = round(o.density * parameter_count(maskable.values()))
    masks = top_k_masks({n: p.detach().cpu() - theta0[n].cpu() for n, p in maskable.items()}, k)
    with torch.no_grad():
        for n, p in maskable.items():
            p.copy_(theta0[n])
    device_masks = {p: masks[n].to(setup.device, p.dtype) for n, p in maskable.items()}
    history = run(model, Phase(o.sparse_epochs, o.learning_rate, setup.batches, setup.dev, setup.greater_is_better,
                               o.evals_per_epoch, device_masks, frozenset(head), o.head_learning_rate,
                               seed=setup.seed + 1, desc="LT-SFT sparse phase", loss=setup.loss),
                  setup.device)

    tuned = {n: p.detach().cpu() for n, p in maskable.items()}
    base = {n: t.cpu() for n, t in theta0.items()}
    leaked = max((float((tuned[n] - base[n]).abs()[~masks[n]].max()) for n in masks if (~masks[n]).any()), default=0.0)
    if leaked:  # would mean the optimiser moved unmasked entries: the stored SFT would not be the model
        raise RuntimeError(f"LT-SFT: parameters outside the mask moved by up to {leaked:g}")
    sft = SparseDiff.from_masks(tuned, base, masks)
    with torch.no_grad():  # evaluate exactly what is stored: theta_0 + SFT
        for n, p in maskable.items():
            p.copy_(theta0[n])
    sft.apply(body_module)
    head_bytes = save_head(head, setup.out_dir)
    if setup.out_dir is not None:
        sft.save(setup.out_dir / "sft.safetensors", {"density": o.density, "seed": setup.seed})

    def use_language(language: str) -> None:
        nonlocal current
        if lang_sfts and language != current:
            lang_sfts[current].revert(body_module)
            lang_sfts[language].apply(body_module)
            current = language

    current = setup.source_language
    head_params = parameter_count(head.values())
    log.info("LT-SFT: %d of %d body parameters changed (density %.3f), head %d", sft.num_values,
             parameter_count(maskable.values()), o.density, head_params)
    return Fitted("lt-sft", parameter_count(maskable.values()) + head_params, sft.num_values + head_params,
                  sft.nbytes + head_bytes, parameter_count(model), history,
                  "language SFT + task SFT" if lang_sfts else "task SFT only", use_language)
