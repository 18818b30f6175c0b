"""The command table: shared flags declared once, config flags' help from field docstrings, names from
the registries, and a parser that builds without torch."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import subprocess
import sys

import pytest

from polyglot_kd import cli
from polyglot_kd.config import LanguageConfig
from polyglot_kd.methods.bistil.config import DistillConfig
from polyglot_kd.methods.embed_init import INIT_METHODS
from polyglot_kd.methods.sft import FINETUNE_METHODS
from polyglot_kd.pipeline.stages import STAGES
from polyglot_kd.tasks import TASKS


def all_commands(commands=cli.COMMANDS, prefix=()):
    for c in commands:
        yield prefix + (c.name,), c
        yield from all_commands(c.subcommands, prefix + (c.name,))


def subparser(*names: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


def test_field_docs_are_the_strings_after_the_fields():
    docs = cli.field_docs(DistillConfig)
    assert docs["steps"].startswith("Optimiser steps (each one batch of one language")
    assert "batch_size" not in docs  # no docstring there
    assert cli.field_docs(LanguageConfig)["teacher"] == "Embedded teacher name, local model directory or hub id."


def test_config_flags_take_help_type_and_default_from_the_dataclass():
    steps = option(subparser("distill"), "--steps")
    assert steps.type is int and steps.default is None and steps.dest == "distill.steps"
    assert steps.help == "Optimiser steps (each one batch of one language; the languages alternate); default: 1800"
    budget = option(subparser("distill"), "--time-budget")
    assert budget.type is float and budget.help.startswith("Stop after this many minutes of training")
    assert budget.help.endswith(f"default: {DistillConfig().time_budget_minutes}")
    assert option(subparser("distill"), "--lr").help == "[distill] lr; default: 0.0001"  # no docstring: its name
    assert option(subparser("stack"), "--enter-layer").help.startswith("Backbone layer the projected MT states enter")


def test_every_config_flag_names_a_real_field_and_its_help_formats():
    parser = cli.build_parser()
    for path, command in all_commands():
        for a in command.args:
            if isinstance(a, cli.ConfigArg):
                fields = {f.name for f in dataclasses.fields(cli.config_class(a.section))}
                assert a.field in fields, (path, a.flag)
        if command.run is not None:
            subparser(*path).format_help()  # a '%' in a docstring would break argparse here
    parser.format_help()


def test_config_flags_become_the_sections_overrides():
    args = cli.build_parser().parse_args(["distill", "pt", "--steps", "5", "--selection", "list", "--layers", "0,2",
                                          "--temperature", "3"])
    assert cli.config_overrides(args, "distill") == {"steps": 5, "layer_selection": "list", "layers": [0, 2],
                                                     "task_temperature": 3.0}
    args = cli.build_parser().parse_args(["stack", "pt", "--max-minutes", "1.5", "--student-side", "source"])
    assert cli.config_overrides(args, "stack") == {"max_minutes": 1.5, "student_side": "source"}
    assert cli.config_overrides(cli.build_parser().parse_args(["release", "pt"]), "release") == {}


@pytest.mark.parametrize("flag, shared", [("--workdir", cli.WORKDIR), ("language", cli.LANGUAGE),
                                          ("--stages", cli.STAGE_LIST), ("--repeats", cli.REPEATS)])
def test_a_shared_flag_is_declared_once(flag, shared):
    users = [path for path, c in all_commands() for a in c.args if isinstance(a, cli.Arg) and flag in a.names]
    assert len(users) > 1
    assert all(a is shared for _, c in all_commands() for a in c.args if isinstance(a, cli.Arg) and flag in a.names)
    assert inspect.getsource(cli).count(f'"{flag}"') == 1


def test_force_is_one_flag_but_build_takes_stages():
    source = inspect.getsource(cli)
    # the shared store_true one, build's repeatable --force STAGE, and init's and export-corpus's (overwrite files)
    assert source.count('"--force"') == 4
    assert "overwrite" in option(subparser("init"), "--force").help
    for name in ("distill", "embed-init", "stack", "release"):
        assert option(subparser(name), "--force").help == cli.FORCE.options["help"]
    assert option(subparser("build"), "--force").metavar == "STAGE"


def test_names_come_from_the_registries():
    assert list(option(subparser("embed-init"), "--method").choices) == INIT_METHODS.names()
    assert option(subparser("build"), "--stages").help.endswith(",".join(STAGES.names()))
    assert option(subparser("eval"), "--tasks").help.endswith(", ".join(TASKS.names()))
    assert ", ".join(FINETUNE_METHODS.names()) in option(subparser("eval"), "--method").help


def test_help_builds_without_torch():
    code = ("import sys; from polyglot_kd.cli import build_parser; p = build_parser(); p.format_help(); "
            "print(sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
