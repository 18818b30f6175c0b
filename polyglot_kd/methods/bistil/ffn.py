"""Narrower feed-forward blocks: a student keeps, in each layer, the FFN neurons that matter most.

A BERT-style layer spends two thirds of its matrix work in its feed-forward block (width -> inner ->
width), so a smaller inner size cuts compute per layer without touching the residual stream, its
LayerNorms or the attention heads. A neuron's importance is how much it writes into the residual
stream on real text: its mean absolute activation over the non-padding tokens of a sample of training
sentences, times the norm of its output weights. Without sample text the activation is replaced by
the norm of its input weights. Removing a neuron removes exactly its contribution, so the student
starts as the teacher minus its weakest neurons.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from polyglot_kd.core.errors import PolyglotError

IN_WEIGHT, IN_BIAS, OUT_WEIGHT = "intermediate.dense.weight", "intermediate.dense.bias", "output.dense.weight"


def ffn_problem(size: int, teacher_size: int | None) -> str | None:
    """Why a student cannot have FFN blocks of inner size `size` (0: the teacher's), or None."""
    if size < 0:
        return f"{size} must be >= 0 (0 keeps the teacher's inner size)"
    if size and teacher_size and size > teacher_size:
        return f"{size} is above the teacher's inner size {teacher_size}; expected 1..{teacher_size} (0 keeps it)"
    return None


def _stack(model):
    from polyglot_kd.methods.bistil.student import layer_list

    stack = layer_list(model)
    prefix = next(name for name, m in model.named_modules() if m is stack)
    return stack, prefix


def activation_importance(model, layers: Sequence[int], tokenizer, texts: Sequence[str], batch_size: int = 32,
                          max_length: int = 128) -> dict[int, torch.Tensor]:
    """For each of `model`'s layers in `layers`: the mean |activation| of each FFN neuron over the
    non-padding tokens of `texts` (a forward pass, no gradients)."""
    stack, _ = _stack(model)
    sums = {i: None for i in layers}
    mask_now, tokens = {}, 0
    hooks = []
    for i in layers:
        inner = getattr(stack[i], "intermediate", None)
        if inner is None:
            raise PolyglotError(f"distill.ffn_size: layer {i} of {type(model).__name__} has no 'intermediate' "
                                "feed-forward block; FFN pruning is implemented for BERT-style encoders")

        def hook(_module, _inputs, output, i=i):
            a = output.detach().float().abs() * mask_now["m"]
            total = a.sum(dim=(0, 1))
            sums[i] = total if sums[i] is None else sums[i] + total
        hooks.append(inner.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                                  max_length=max_length, return_tensors="pt")
                batch = {k: v.to(next(model.parameters()).device) for k, v in batch.items()}
                mask_now["m"] = batch["attention_mask"].unsqueeze(-1).float()
                tokens += int(batch["attention_mask"].sum())
                model(**batch)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    if not tokens:
        raise PolyglotError("distill.ffn_size: the sample text for FFN importance has no tokens")
    return {i: s / tokens for i, s in sums.items()}


def prune_ffn(model, size: int, activations: dict[int, torch.Tensor] | None = None):
    """A copy of `model` whose layer i keeps the `size` FFN neurons of highest importance (`activations[i]`,
    indexed by the model's own layers; None: input-weight norms), in their original order."""
    config = copy.deepcopy(model.config)
    if problem := ffn_problem(size, config.intermediate_size):
        raise PolyglotError(f"distill.ffn_size: {problem}")
    if size == config.intermediate_size:
        return model
    stack, prefix = _stack(model)
    state = model.state_dict()
    pruned = dict(state)
    for i in range(len(stack)):
        layer = f"{prefix}.{i}."
        if layer + IN_WEIGHT not in state or layer + OUT_WEIGHT not in state:
            raise PolyglotError(f"distill.ffn_size: layer {i} of {type(model).__name__} has no "
                                f"{IN_WEIGHT} / {OUT_WEIGHT}; FFN pruning is implemented for BERT-style encoders")
        w_in, w_out = state[layer + IN_WEIGHT].float(), state[layer + OUT_WEIGHT].float()
        strength = activations[i] if activations is not None else w_in.norm(dim=1)
        importance = strength.to(w_out.device) * w_out.norm(dim=0)
        keep = torch.sort(torch.topk(importance, size).indices).values
        pruned[layer + IN_WEIGHT] = state[layer + IN_WEIGHT][keep].contiguous()
        if layer + IN_BIAS in state:
            pruned[layer + IN_BIAS] = state[layer + IN_BIAS][keep].contiguous()
        pruned[layer + OUT_WEIGHT] = state[layer + OUT_WEIGHT][:, keep].contiguous()
    config.intermediate_size = size
    kwargs = {"add_pooling_layer": False} if getattr(model, "pooler", "absent") is None else {}
    narrower = type(model)(config, **kwargs)
    narrower.load_state_dict(pruned, strict=False)
    return narrower.to(next(model.parameters()).device).train(model.training)
