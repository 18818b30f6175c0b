"""Evaluation tasks, one module each (defining `TASK`), declared below in one line each.

A task names its primary metric and whether greater is better, the languages it covers and its kind:
`embedding` tasks (retrieval, mining) score a frozen encoder; the others train a head on English and
test zero-shot, sharing one training path per kind (`TASK_KINDS`: the head modules of methods/sft).
The retrieval and mining evaluators also serve the training curves and the release check.
"""

from __future__ import annotations

from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.core.registry import Registry

TASKS = Registry("task")
TASKS.add("retrieval", "polyglot_kd.tasks.retrieval:TASK")
TASKS.add("mining", "polyglot_kd.tasks.mining:TASK")
TASKS.add("pos", "polyglot_kd.tasks.pos:TASK")
TASKS.add("xnli", "polyglot_kd.tasks.xnli:TASK")
TASKS.add("pawsx", "polyglot_kd.tasks.pawsx:TASK")
TASKS.add("panx", "polyglot_kd.tasks.panx:TASK")
TASKS.add("udpos", "polyglot_kd.tasks.udpos:TASK")
TASKS.add("xquad", "polyglot_kd.tasks.xquad:TASK")
TASKS.add("mlqa", "polyglot_kd.tasks.mlqa:TASK")
TASKS.add("tydiqa", "polyglot_kd.tasks.tydiqa:TASK")

# trained task kinds -> the module that trains and scores a head of that kind
TASK_KINDS = Registry("task kind")
TASK_KINDS.add("token-classification", "polyglot_kd.methods.sft.heads.token")
TASK_KINDS.add("sequence-classification", "polyglot_kd.methods.sft.heads.sequence")
TASK_KINDS.add("extractive-qa", "polyglot_kd.methods.sft.heads.qa")


def task_names() -> list[str]:
    return TASKS.names()


def get_task(name: str):
    """The declared task `name`; an unknown name gets an error listing the known ones."""
    return TASKS.get(name)


def parse_tasks(text: str) -> list:
    """'retrieval,pos' -> the tasks, every unknown name reported at once."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise PolyglotError(f"no task named; known tasks: {', '.join(task_names())}")
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        hints = "".join(did_you_mean(n, task_names()) for n in unknown)
        raise PolyglotError(f"unknown task(s) {', '.join(map(repr, unknown))}{hints}; known tasks: {', '.join(task_names())}")
    return [get_task(n) for n in names]
