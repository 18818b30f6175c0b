"""Full fine-tuning: every parameter of body and head trains (the word embeddings too unless
`freeze_embeddings`); storing the result means storing the whole model."""

from __future__ import annotations

from polyglot_kd.core.loading import parameter_count
from polyglot_kd.methods.sft.fit import FitSetup, Fitted, prepare, split_params
from polyglot_kd.methods.sft.loop import Phase, run


def fit(model, setup: FitSetup) -> Fitted:
    o = setup.options
    prepare(model, o)
    _, head = split_params(model, setup.fresh)
    history = run(model, Phase(o.epochs, o.learning_rate, setup.batches, setup.dev, setup.greater_is_better,
                               o.evals_per_epoch, head=frozenset(head), head_learning_rate=o.head_learning_rate,
                               seed=setup.seed, desc="full fine-tuning"), setup.device)
    total = parameter_count(model)
    trained = parameter_count(p for p in model.parameters() if p.requires_grad)
    stored_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return Fitted("full", trained, total, stored_bytes, total, history)
