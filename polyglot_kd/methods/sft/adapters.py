"""Adapters (library `adapters`): a bottleneck task adapter (`seq_bn`) and the head train, the
encoder stays frozen. MAD-X: where language adapters for English and every test language ship
beside the model (`<model dir>/language-adapters/<lang>/`, as `save_adapter` writes them), the task
adapter trains on `Stack(English, task)` and testing swaps in `Stack(target, task)`."""

from __future__ import annotations

import logging

from polyglot_kd.core.loading import parameter_count
from polyglot_kd.methods.sft.fit import (FitSetup, Fitted, language_part, prepare,
                                  save_head, split_params)
from polyglot_kd.methods.sft.loop import Phase, run

log = logging.getLogger(__name__)

TASK_ADAPTER = "task"


def _lang_name(language: str) -> str:
    return f"lang_{language}"


def fit(model, setup: FitSetup) -> Fitted:
    import adapters
    from adapters import SeqBnConfig
    from adapters.composition import Stack

    o = setup.options
    prepare(model, o)
    _, head = split_params(model, setup.fresh)
    base_total = parameter_count(model)  # the model without any adapter
    adapters.init(model)
    languages = [setup.source_language, *setup.test_languages]
    lang_paths = language_part(setup.model_dir, "adapter", languages)
    for lang, path in (lang_paths or {}).items():
        model.load_adapter(str(path), load_as=_lang_name(lang), with_head=False)
    model.add_adapter(TASK_ADAPTER, config=SeqBnConfig(reduction_factor=o.adapter_reduction_factor))
    model.train_adapter(TASK_ADAPTER)  # freezes everything but the task adapter ...
    for p in head.values():  # ... and the head, which must train too
        p.requires_grad_(True)
    if lang_paths:
        model.active_adapters = Stack(_lang_name(setup.source_language), TASK_ADAPTER)
    adapter_params = parameter_count(p for n, p in model.named_parameters() if f"adapters.{TASK_ADAPTER}." in n)
    history = run(model, Phase(o.epochs, o.adapter_learning_rate, setup.batches, setup.dev, setup.greater_is_better,
                               o.evals_per_epoch, seed=setup.seed, desc="task adapter"), setup.device)
    trained = parameter_count(p for p in model.parameters() if p.requires_grad)
    head_bytes = save_head(head, setup.out_dir)
    if setup.out_dir is not None:
        model.save_adapter(str(setup.out_dir / "task-adapter"), TASK_ADAPTER, with_head=False)

    def use_language(language: str) -> None:
        if lang_paths:
            model.active_adapters = Stack(_lang_name(language), TASK_ADAPTER)

    head_params = parameter_count(head.values())
    log.info("adapters: task adapter %d parameters, head %d", adapter_params, head_params)
    return Fitted("adapters", trained, adapter_params + head_params, 4 * adapter_params + head_bytes, base_total,
                  history, "Stack(language, task)" if lang_paths else "task adapter only", use_language)
