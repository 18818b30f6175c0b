"""Student initialisation: a shallower (optionally narrower) copy of a teacher encoder.

Layers are chosen by rule ('bottom': the first k; 'regular': BiStil's every f-th layer, teacher layer
l where l % f == f-1; or an explicit list) and copied module by module through the `transformers`
config, so BERT- and XLM-R-style encoders both work without matching parameter names. A narrower
student takes its embeddings from the SVD of the teacher's and its layers' weights projected onto the
same basis; `hidden_projection` maps its states back to the teacher's width for the hidden-state loss.
A student may also keep fewer feed-forward neurons per layer (`ffn.py`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import same_class_kwargs
from polyglot_kd.methods.bistil.ffn import prune_ffn
from polyglot_kd.methods.bistil.layer_stack import layer_prefix

SELECTIONS = ("bottom", "regular", "list")


def select_layers(teacher_layers: int, student_layers: int, selection: str, explicit: list[int] | None = None) -> list[int]:
    """Teacher layer indices (0-based) that become the student's layers, in order."""
    if selection == "list":
        layers = list(explicit or [])
        bad = [i for i in layers if not 0 <= i < teacher_layers]
        if bad or not layers:
            raise PolyglotError(f"student layer list {layers} must name teacher layers 0..{teacher_layers - 1}; bad: {bad}")
        if layers != sorted(set(layers)):
            raise PolyglotError(f"student layer list {layers} must be strictly increasing")
        return layers
    if not 1 <= student_layers <= teacher_layers:
        raise PolyglotError(f"a student of {student_layers} layers cannot be cut from a teacher of {teacher_layers}: "
                            f"expected 1..{teacher_layers}")
    if selection == "bottom":
        return list(range(student_layers))
    if selection == "regular":
        if teacher_layers % student_layers:
            raise PolyglotError(f"'regular' selection needs the teacher's {teacher_layers} layers to be a multiple "
                                f"of the student's {student_layers}")
        f = teacher_layers // student_layers
        return [l for l in range(teacher_layers) if l % f == f - 1]
    raise PolyglotError(f"unknown layer selection {selection!r}; expected one of {SELECTIONS}")


@dataclass(frozen=True)
class LayerMap:
    """Which student output is compared with which teacher output, for a student cut from `layers`."""

    hidden: list[tuple[int, int]]
    """(student, teacher) indices into `hidden_states`, where index 0 is the embedding output."""
    attention: list[tuple[int, int]]
    """(student, teacher) indices into `attentions` (one per layer, no embedding entry)."""


def layer_map(teacher_layers: list[int]) -> LayerMap:
    """The pairs for a student whose layer i was cut from teacher layer `teacher_layers[i]`."""
    return LayerMap(hidden=[(i + 1, t + 1) for i, t in enumerate(teacher_layers)],
                    attention=[(i, t) for i, t in enumerate(teacher_layers)])


@dataclass
class Student:
    model: nn.Module
    teacher_layers: list[int]  # student layer i was cut from teacher layer teacher_layers[i]
    hidden_projection: nn.Linear | None  # student width -> teacher width, for the hidden-state loss


WIDTH_INITS = ("svd", "select")


def _width_unit(teacher_width: int, heads: int, width_init: str) -> tuple[int, str]:
    """An 'svd' student keeps the teacher's number of heads (smaller ones); a 'select' student keeps
    whole heads (fewer of them)."""
    if width_init == "select":
        return teacher_width // heads, f"head size {teacher_width // heads}"
    return heads, f"{heads} attention heads"


def width_rule(teacher_width: int, heads: int, width_init: str = "svd") -> str:
    """What a student's width must be, in words."""
    return f"a multiple of the teacher's {_width_unit(teacher_width, heads, width_init)[1]} and at most its width {teacher_width}"


def width_problem(width: int, teacher_width: int, heads: int, width_init: str = "svd") -> str | None:
    """Why a student of `width` cannot be cut from the teacher ('does not divide ...', 'is wider ...'), or None."""
    step, unit = _width_unit(teacher_width, heads, width_init)
    if width > teacher_width:
        return f"is wider than the teacher's {teacher_width}"
    if width < 1 or width % step:
        return f"does not divide into the teacher's {unit}"
    return None


def make_student(teacher, layers: list[int], hidden_size: int | None = None, width_init: str = "svd",
                 embedding_rank: int = 0, ffn_size: int = 0, ffn_activations: dict | None = None) -> Student:
    """A student holding the teacher's embeddings and the chosen layers (a deep copy; the teacher is untouched).
    A narrower student is either rotated into the teacher's top singular directions ('svd'), or keeps a
    subset of the teacher's coordinates and whole attention heads ('select': every LayerNorm still
    normalises coordinates the teacher normalised). `embedding_rank` > 0 then factorises its word
    embedding (the truncated SVD of the matrix it got: the vocabulary then costs vocab x rank).
    `ffn_size` > 0 keeps that many feed-forward neurons per layer (`methods/bistil/ffn.py`), ranked and
    refitted by `ffn_activations` (teacher layer -> its neurons' `NeuronStats`) when given."""
    student = _cut(teacher, layers, hidden_size, width_init)
    if ffn_size:
        per_layer = {i: ffn_activations[t] for i, t in enumerate(layers)} if ffn_activations else None
        student.model = prune_ffn(student.model, ffn_size, per_layer)
    if embedding_rank:
        student.model = _factorised(student.model, embedding_rank)
    return student


def embedding_rank_problem(rank: int, width: int | None, model_type: str | None) -> str | None:
    """Why a student of this width and architecture cannot have a rank-`rank` word embedding, or None."""
    if rank and model_type and model_type not in FACTORISABLE:
        return f"factorised embeddings are implemented for {sorted(FACTORISABLE)} encoders, not {model_type!r}"
    if rank and width and not 1 <= rank <= width:
        return f"embedding rank {rank} is above the student's width {width}; expected 1..{width} (0 keeps the full matrix)"
    return None


FACTORISABLE = frozenset({"bert", "polyglot_factorised_bert"})


def _factorised(model, rank: int):
    from polyglot_kd.methods.embed_init.factorised import factorise

    if problem := embedding_rank_problem(rank, model.config.hidden_size, model.config.model_type):
        raise PolyglotError(problem)
    if hasattr(model, "merged_copy"):  # already factorised (an embed-init start): refactorise the product
        model = model.merged_copy()
    return factorise(model, rank)


def _cut(teacher, layers: list[int], hidden_size: int | None, width_init: str) -> Student:
    config = copy.deepcopy(teacher.config)
    width = hidden_size or config.hidden_size
    if problem := width_problem(width, config.hidden_size, config.num_attention_heads, width_init):
        raise PolyglotError(f"student width {width} {problem}; expected "
                            f"{width_rule(config.hidden_size, config.num_attention_heads, width_init)}")
    if width != config.hidden_size and width_init == "select":
        return _selected_student(teacher, layers, width)
    config.num_hidden_layers = len(layers)
    config.hidden_size = width
    student = type(teacher)(config, **same_class_kwargs(teacher))
    student.load_state_dict(_projected_state(teacher, layers, width), strict=False)
    projection = None
    if width != teacher.config.hidden_size:
        projection = nn.Linear(width, teacher.config.hidden_size, bias=False)
        projection.weight.data = _basis(teacher, width).clone()  # (H, d): back to the teacher's space
    return Student(student.eval(), list(layers), projection)


def _basis(teacher, width: int) -> torch.Tensor:
    """The top-`width` right singular vectors of the teacher's embedding matrix, (H, width)."""
    emb = teacher.get_input_embeddings().weight.detach().float()
    _, _, vh = torch.linalg.svd(emb, full_matrices=False)
    return vh[:width].T.contiguous()


def _projected_state(teacher, layers: list[int], width: int) -> dict[str, torch.Tensor]:
    """Teacher weights for the student: layer `layers[i]` renamed to layer i, projected if narrower."""
    prefix = layer_prefix(teacher)
    state = {}
    for name, tensor in teacher.state_dict().items():
        if name.startswith(prefix + "."):
            index, rest = name[len(prefix) + 1:].split(".", 1)
            if int(index) not in layers:
                continue
            name = f"{prefix}.{layers.index(int(index))}.{rest}"
        state[name] = tensor.clone()
    if width == teacher.config.hidden_size:
        return state
    basis = _basis(teacher, width)  # (H, d)
    hidden = teacher.config.hidden_size
    projected = {}
    for name, t in state.items():
        if t.dim() == 2:  # Linear (out, in) or embedding (rows, H)
            if t.shape[1] == hidden:
                t = t @ basis
            if t.shape[0] == hidden and "embeddings" not in name:
                t = basis.T @ t
        elif t.dim() == 1 and t.shape[0] == hidden:  # biases, LayerNorm: expressed in the new basis
            t = basis.T @ t if not name.endswith("LayerNorm.weight") else torch.ones(width)
        projected[name] = t.contiguous()
    return projected


def _selected_student(teacher, layers: list[int], width: int) -> Student:
    """Keep `width` residual coordinates (largest mean |LayerNorm gain| over the teacher) and, in each
    layer, the width // head_dim heads whose output projection is largest; head size stays the same."""
    config = copy.deepcopy(teacher.config)
    head_dim = config.hidden_size // config.num_attention_heads
    state = {k: v.detach().clone() for k, v in teacher.state_dict().items()}
    gains = torch.stack([v.abs() for k, v in state.items() if k.endswith("LayerNorm.weight")]).mean(0)
    keep = torch.sort(torch.topk(gains, width).indices).values
    prefix = layer_prefix(teacher)
    out = {}
    for name, t in state.items():
        if name.startswith(prefix + "."):
            index, rest = name[len(prefix) + 1:].split(".", 1)
            if int(index) not in layers:
                continue
            heads = _kept_heads(state, f"{prefix}.{index}.", config.num_attention_heads, head_dim, width // head_dim)
            out[f"{prefix}.{layers.index(int(index))}.{rest}"] = _select_layer_tensor(rest, t, keep, heads, head_dim)
        elif t.dim() >= 1 and t.shape[-1] == config.hidden_size:  # embeddings and their LayerNorm
            out[name] = t[..., keep].contiguous()
        else:
            out[name] = t
    config.num_hidden_layers = len(layers)
    config.hidden_size = width
    config.num_attention_heads = width // head_dim
    student = type(teacher)(config, **same_class_kwargs(teacher))
    student.load_state_dict(out, strict=False)
    projection = nn.Linear(width, teacher.config.hidden_size, bias=False)
    projection.weight.data = torch.eye(teacher.config.hidden_size)[:, keep].contiguous()  # back to the teacher's coordinates
    return Student(student.eval(), list(layers), projection)


def _kept_heads(state: dict, layer: str, n_heads: int, head_dim: int, n_keep: int) -> torch.Tensor:
    w = state[layer + "attention.output.dense.weight"]  # (hidden, all_head)
    norms = w.reshape(w.shape[0], n_heads, head_dim).norm(dim=(0, 2))
    return torch.sort(torch.topk(norms, n_keep).indices).values


def _select_layer_tensor(rest: str, t: torch.Tensor, keep: torch.Tensor, heads: torch.Tensor,
                         head_dim: int) -> torch.Tensor:
    """One tensor of a BERT layer restricted to the kept coordinates (`keep`) and heads."""
    dims = torch.cat([h * head_dim + torch.arange(head_dim) for h in heads.tolist()])
    if rest.startswith("attention.self."):  # query / key / value: out = head dims, in = coordinates
        t = t[dims]
        return (t[:, keep] if t.dim() == 2 else t).contiguous()
    if rest == "attention.output.dense.weight":
        return t[keep][:, dims].contiguous()
    if rest == "intermediate.dense.weight":
        return t[:, keep].contiguous()
    if rest == "output.dense.weight":
        return t[keep].contiguous()
    if rest.startswith("intermediate."):  # the FFN's inner size is kept whole
        return t
    return t[keep].contiguous()  # biases and LayerNorms of the residual stream
