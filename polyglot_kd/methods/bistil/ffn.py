"""Narrower feed-forward blocks: a student keeps, in each layer, the FFN neurons that matter most.

A BERT-style layer spends two thirds of its matrix work in its feed-forward block (width -> inner ->
width), so a smaller inner size cuts compute per layer without touching the residual stream, its
LayerNorms or the attention heads. A neuron's importance is how much it writes into the residual
stream on real text: its mean absolute activation over the non-padding tokens of a sample of training
sentences, times the norm of its output weights (without sample text: the norm of its input weights).

With sample text the kept neurons' output weights and the output bias are then refitted by least
squares, so that on the sample tokens the narrower block writes what the whole block wrote: the
removed neurons' share is carried, as far as a linear map of the kept activations can, by the others.
Only each layer's Gram matrix of activations is needed for that (the block's output is linear in them).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import same_class_kwargs
from polyglot_kd.methods.bistil.layer_stack import layer_list, layer_prefix

IN_WEIGHT, IN_BIAS = "intermediate.dense.weight", "intermediate.dense.bias"
OUT_WEIGHT, OUT_BIAS = "output.dense.weight", "output.dense.bias"
RIDGE = 1e-3
"""Ridge of the refit, relative to the mean activation energy: keeps rarely active neurons' weights sane."""


@dataclass
class NeuronStats:
    """One layer's FFN neurons over sample text."""

    strength: torch.Tensor
    """Mean |activation| of each neuron, (inner,)."""
    gram: torch.Tensor
    """Mean outer product of [activations, 1] over the tokens, (inner + 1, inner + 1): the refit's normal
    equations (the constant column carries the output bias)."""


def ffn_problem(size: int, teacher_size: int | None) -> str | None:
    """Why a student cannot have FFN blocks of inner size `size` (0: the teacher's), or None."""
    if size < 0:
        return f"{size} must be >= 0 (0 keeps the teacher's inner size)"
    if size and teacher_size and size > teacher_size:
        return f"{size} is above the teacher's inner size {teacher_size}; expected 1..{teacher_size} (0 keeps it)"
    return None


def activation_importance(model, layers: Sequence[int], tokenizer, texts: Sequence[str], batch_size: int = 32,
                          max_length: int = 128) -> dict[int, NeuronStats]:
    """For each of `model`'s layers in `layers`: its FFN neurons' statistics over the non-padding tokens
    of `texts` (a forward pass, no gradients)."""
    stack = layer_list(model)
    sums, grams = {i: None for i in layers}, {i: None for i in layers}
    mask_now, tokens = {}, 0
    hooks = []
    for i in layers:
        inner = getattr(stack[i], "intermediate", None)
        if inner is None:
            raise PolyglotError(f"distill.ffn_size: layer {i} of {type(model).__name__} has no 'intermediate' "
                                "feed-forward block; FFN pruning is implemented for BERT-style encoders")

        def hook(_module, _inputs, output, i=i):
            a = output.detach().float()[mask_now["m"]]  # (tokens, inner)
            a = torch.cat([a, torch.ones(a.shape[0], 1, device=a.device)], dim=1)
            gram, total = a.T @ a, a[:, :-1].abs().sum(0)
            sums[i] = total if sums[i] is None else sums[i] + total
            grams[i] = gram if grams[i] is None else grams[i] + gram
        hooks.append(inner.register_forward_hook(hook))
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                                  max_length=max_length, return_tensors="pt")
                batch = {k: v.to(device) for k, v in batch.items()}
                mask_now["m"] = batch["attention_mask"].bool()
                tokens += int(batch["attention_mask"].sum())
                model(**batch)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    if not tokens:
        raise PolyglotError("distill.ffn_size: the sample text for FFN importance has no tokens")
    return {i: NeuronStats(sums[i] / tokens, grams[i] / tokens) for i in layers}


def refit(w_out: torch.Tensor, b_out: torch.Tensor, gram: torch.Tensor, keep: torch.Tensor):
    """Output weights (width, kept) and bias (width,) of the kept neurons that best reproduce, in the
    least-squares sense over the sampled tokens, the block's output with all neurons."""
    full = torch.cat([w_out.T, b_out[None]], dim=0)  # (inner + 1, width): [activations, 1] -> output
    rows = torch.cat([keep, torch.tensor([gram.shape[0] - 1])])  # the kept neurons and the constant
    lhs = gram[rows][:, rows]
    lhs = lhs + RIDGE * lhs.diagonal().mean() * torch.eye(len(rows))
    solution = torch.linalg.solve(lhs.double(), (gram[rows] @ full).double()).float()
    return solution[:-1].T.contiguous(), solution[-1].contiguous()


def prune_ffn(model, size: int, activations: dict[int, NeuronStats] | None = None):
    """A copy of `model` whose layer i keeps the `size` FFN neurons of highest importance (`activations[i]`,
    indexed by the model's own layers; None: input-weight norms), in their original order, with their
    output weights refitted when activations are given."""
    config = copy.deepcopy(model.config)
    if problem := ffn_problem(size, config.intermediate_size):
        raise PolyglotError(f"distill.ffn_size: {problem}")
    if size == config.intermediate_size:
        return model
    stack, prefix = layer_list(model), layer_prefix(model)
    state = model.state_dict()
    pruned = dict(state)
    for i in range(len(stack)):
        layer = f"{prefix}.{i}."
        if not all(layer + key in state for key in (IN_WEIGHT, OUT_WEIGHT, OUT_BIAS)):
            raise PolyglotError(f"distill.ffn_size: layer {i} of {type(model).__name__} has no "
                                f"{IN_WEIGHT} / {OUT_WEIGHT}; FFN pruning is implemented for BERT-style encoders")
        w_in, w_out = state[layer + IN_WEIGHT].float(), state[layer + OUT_WEIGHT].float()
        stats = activations[i] if activations is not None else None
        strength = stats.strength.to(w_out.device) if stats is not None else w_in.norm(dim=1)
        keep = torch.sort(torch.topk(strength * w_out.norm(dim=0), size).indices).values
        pruned[layer + IN_WEIGHT] = state[layer + IN_WEIGHT][keep].contiguous()
        if layer + IN_BIAS in state:
            pruned[layer + IN_BIAS] = state[layer + IN_BIAS][keep].contiguous()
        if stats is None:
            pruned[layer + OUT_WEIGHT] = state[layer + OUT_WEIGHT][:, keep].contiguous()
        else:
            dtype = state[layer + OUT_WEIGHT].dtype
            weight, bias = refit(w_out.cpu(), state[layer + OUT_BIAS].float().cpu(), stats.gram.cpu(), keep.cpu())
            pruned[layer + OUT_WEIGHT], pruned[layer + OUT_BIAS] = weight.to(dtype), bias.to(dtype)
    config.intermediate_size = size
    narrower = type(model)(config, **same_class_kwargs(model))
    narrower.load_state_dict(pruned, strict=False)
    return narrower.to(next(model.parameters()).device).train(model.training)
