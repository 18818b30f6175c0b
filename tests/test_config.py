"""Language files: every shipped one is valid, and a bad one reports all its problems at once."""

from __future__ import annotations

import importlib

import pytest

from polyglot_kd.pipeline import build
from polyglot_kd.config import known_languages, load_language
from polyglot_kd.core.errors import ConfigError, PolyglotError

REQUIRED = {"pt", "sw", "de", "fr", "es", "ru", "ar", "hi", "vi", "tr"}


def test_required_languages_are_shipped():
    assert REQUIRED <= set(known_languages())


@pytest.mark.parametrize("code", known_languages())
def test_every_language_file_is_valid(code):
    cfg = load_language(code)
    assert cfg.code == code and cfg.name and cfg.corpus.bible
    assert build.preflight(cfg, cfg.stages) is None  # word lists exist for the language, etc.


def test_unknown_language_lists_known_ones():
    with pytest.raises(PolyglotError) as err:
        load_language("px")
    assert "unknown language code 'px'" in str(err.value) and "known: ar, bn, de" in str(err.value)


def test_typos_are_all_reported_at_once(tmp_path, monkeypatch):
    (tmp_path / "xx.toml").write_text(
        'name = "Test"\nstagse = ["trim"]\n[corpus]\nbible = "a"\n'
        '[trim]\nrule = "topn"\ntop_n = "many"\ngeneral_weight = 2\n[eval]\ntasks = ["retreival"]\n'
    )
    monkeypatch.setenv("POLYGLOT_KD_LANGUAGES", str(tmp_path))
    with pytest.raises(ConfigError) as err:
        load_language("xx")
    text = str(err.value)
    assert "stagse: unknown key (did you mean 'stages'?)" in text
    assert "trim.top_n: expected int, got 'many'" in text
    assert "'topn' is not one of" in text and "did you mean 'top_n'" in text
    assert "general_weight: 2.0 must be in [0, 1]" in text
    assert "eval.tasks: 'retreival' is not one of" in text
    assert len(err.value.problems) == 5


def test_missing_bible_and_wordlist_problems(tmp_path, monkeypatch):
    (tmp_path / "sw.toml").write_text('name = "Swahili"\n[corpus]\nembedded = ["train"]\n')
    monkeypatch.setenv("POLYGLOT_KD_LANGUAGES", str(tmp_path))
    with pytest.raises(ConfigError, match="corpus: no training text: name a Bible translation"):
        build.preflight(load_language("sw"), ["trim"])  # no Bible and no source of its own
    (tmp_path / "sw.toml").write_text('name = "Swahili"\n[corpus]\nbible = "h"\n')
    cfg = load_language("sw")  # valid file, but wordfreq has no Swahili: preflight says so
    with pytest.raises(ConfigError, match="wordfreq has no 'sw'.*hunspell:hunspell-sw"):
        build.preflight(cfg, ["trim"])


def test_overrides_win_over_the_file():
    cfg = load_language("pt", {"trim": {"top_n": 123}, "teacher": "some/dir"})
    assert cfg.trim.top_n == 123 and cfg.teacher == "some/dir"
    assert importlib.import_module("polyglot_kd.config").LanguageConfig is type(cfg)
