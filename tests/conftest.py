"""Shared fixtures: tiny models and tokenizers built in-process, and an isolated cache."""

from __future__ import annotations

import pytest

from polyglot_kd.config import parse_config
from polyglot_kd.data import bible, udhr, wordlists
from polyglot_kd.data.bible import ParallelSet
from tests.tiny import CORPUS, save_tiny_model


def pytest_configure(config):
    config.addinivalue_line("markers", "real: uses the real embedded teacher or corpora (downloads packages once)")


EN = ["the cat sleeps on the sofa", "the dog runs in the garden", "a bird sings in the morning"]
PT = ["o gato dorme no sofá", "o cão corre no jardim", "um pássaro canta de manhã"]


@pytest.fixture
def tiny_world(tmp_path, monkeypatch):
    """A tiny teacher directory and corpora patched in place of the real packages."""
    teacher = save_tiny_model(tmp_path / "teacher")
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(bible, "verses", lambda code, split: (EN if code == "4" else PT) * 10)
    monkeypatch.setattr(bible, "parallel", lambda s, t, split, max_items=None, seed=0: ParallelSet(f"bible-{split}", EN, PT))
    monkeypatch.setattr(udhr, "parallel", lambda s, t: ParallelSet("udhr", EN[:2], PT[:2]))
    monkeypatch.setattr(bible, "translations", lambda: frozenset({"4", "a"}))
    monkeypatch.setattr(udhr, "declaration_codes", lambda: ["eng", "por_BR"])
    monkeypatch.setattr(wordlists, "load", lambda name, lang, size: [(w, 1 / len(CORPUS)) for w in CORPUS[:6]])
    config = parse_config({"code": "pt", "name": "Portuguese", "teacher": str(teacher),
                           "corpus": {"bible": "a", "udhr": "por_BR"}, "trim": {"top_n": 40},
                           "distill": {"student_layers": 1, "steps": 4, "batch_size": 2, "warmup_steps": 1,
                                       "checkpoint_every": 2, "eval_every": 2, "eval_items": 3,
                                       "contrastive_weight": 0.5}})
    return config, tmp_path / "builds"
