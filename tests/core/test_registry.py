"""The one Registry class, and every declared entry of every registry resolving to what it names."""

from __future__ import annotations

import inspect

import pytest

from polyglot_kd.config import parse_config
from polyglot_kd.core.errors import ConfigError, PolyglotError
from polyglot_kd.core.registry import Registry
from polyglot_kd.methods.bistil import LOSSES
from polyglot_kd.methods.embed_init import INIT_METHODS
from polyglot_kd.methods.sft import FINETUNE_METHODS
from polyglot_kd.pipeline.stages import STAGES, default_stages, model_stages
from polyglot_kd.tasks import TASK_KINDS, TASKS
from polyglot_kd.tasks.task import Task


def test_registry_imports_on_first_use_and_names_unknown_entries():
    reg = Registry("widget")
    reg.add("json-dumps", "json:dumps", cheap=True)
    reg.add("json", "json")
    assert reg.names() == ["json-dumps", "json"] and "json" in reg and len(reg) == 2
    assert reg.get("json-dumps")({"a": 1}) == '{"a": 1}'
    assert reg.get("json").__name__ == "json" and reg.info("json-dumps") == {"cheap": True}
    with pytest.raises(PolyglotError, match=r"unknown widget 'jsno' \(did you mean 'json'\?\); known: json-dumps, json"):
        reg.get("jsno")
    assert "did you mean 'json'" in reg.problem("jsno", "x.kind") and reg.problem("json", "x.kind") is None
    with pytest.raises(ValueError, match="declared twice"):
        reg.add("json", "pickle")


def test_every_stage_is_a_recipe_module():
    for name in STAGES:
        module = STAGES.get(name)
        assert callable(module.run) and callable(module.inputs) and callable(module.preflight), name
    assert set(model_stages()) < set(STAGES) and set(default_stages()) < set(STAGES)


def test_every_task_and_kind_resolves():
    for name in TASKS:
        task = TASKS.get(name)
        assert isinstance(task, Task) and task.name == name
        assert not task.trained or task.kind in TASK_KINDS
    for kind in TASK_KINDS:
        module = TASK_KINDS.get(kind)
        assert callable(module.featurize) and callable(module.evaluate), kind


@pytest.mark.parametrize("registry", [FINETUNE_METHODS, INIT_METHODS], ids=lambda r: r.kind)
def test_every_method_is_a_function_of_the_declared_shape(registry):
    for name in registry:
        fn = registry.get(name)
        assert callable(fn) and len(inspect.signature(fn).parameters) in (1, 2), name


def test_every_loss_resolves_to_a_module_class():
    import torch

    for name in LOSSES:
        assert issubclass(LOSSES.get(name), torch.nn.Module), name


def test_config_names_come_from_the_registries(monkeypatch):
    monkeypatch.setattr(TASKS, "_entries", dict(TASKS._entries))
    TASKS.add("brand-new", "polyglot_kd.tasks.retrieval:TASK")
    base = {"code": "pt", "corpus": {"bible": "a"}}
    assert parse_config(base | {"eval": {"tasks": ["brand-new"]}}).eval.tasks == ["brand-new"]
    with pytest.raises(ConfigError) as err:
        parse_config(base | {"eval": {"tasks": ["retrievl"]}, "stages": ["trim", "distil"],
                            "finetune": {"method": "lt_sft"}, "embed_init": {"method": "ofaa"},
                            "distill": {"attention_loss": "kld"}})
    text = str(err.value)
    for hint in ("did you mean 'retrieval'", "did you mean 'distill'", "did you mean 'lt-sft'",
                 "did you mean 'ofa'", "'kld' is not one of ['mse', 'kl']"):
        assert hint in text
