"""The same data through files gives the same model: export the embedded corpus, `init` from the files,
trim: the kept vocabulary and the trimmed weights are identical to the embedded route's."""

from __future__ import annotations

import json

import numpy as np

from polyglot_kd import cli
from polyglot_kd.config import LANGUAGES_ENV
from polyglot_kd.core.files import sha256
from polyglot_kd.data.export import _leftover
from tests.conftest import patch_tiny_corpora
from tests.tiny import save_tiny_model


def test_leftover_is_a_multiset_difference_in_order():
    assert _leftover(["a", "b", "a", "c", "a"], ["a", "c", "x"]) == ["b", "a", "a"]


def test_a_build_from_exported_files_keeps_the_same_vocabulary_and_weights(tmp_path, monkeypatch, capsys):
    patch_tiny_corpora(monkeypatch, tmp_path / "cache")
    teacher = save_tiny_model(tmp_path / "teacher")
    embedded, from_files = tmp_path / "embedded-languages", tmp_path / "file-languages"
    embedded.mkdir()
    (embedded / "pt.toml").write_text(f'name = "Portuguese"\nteacher = "{teacher}"\n[corpus]\nbible = "a"\n'
                                      'udhr = "por_BR"\n')
    monkeypatch.setenv(LANGUAGES_ENV, str(embedded))
    assert cli.main(["build", "pt", "--stages", "trim,eval", "--workdir", str(tmp_path / "a")]) == 0
    assert cli.main(["export-corpus", "pt", str(tmp_path / "text")]) == 0
    printed = capsys.readouterr().out
    init = printed.split("build from the files into your language folder with:\n  polyglot-kd ")[1].split()
    assert "--source-monolingual" in init and "--monolingual" in init  # the Bible's verses without a partner
    assert cli.main(["--languages", str(from_files), *init, "--teacher", str(teacher), "--name", "Portuguese"]) == 0
    assert cli.main(["build", "pt", "--stages", "trim,eval", "--workdir", str(tmp_path / "b")]) == 0

    a, b = tmp_path / "a" / "pt" / "trim", tmp_path / "b" / "pt" / "trim"
    assert np.array_equal(np.load(a / "kept_ids.npy"), np.load(b / "kept_ids.npy"))
    for name in ("model.safetensors", "tokenizer.json"):
        assert sha256(a / "model" / name) == sha256(b / "model" / name), name
    manifests = [json.loads((x / "manifest.json").read_text())["metrics"] for x in (a, b)]
    assert manifests[0]["training_tokens"] == manifests[1]["training_tokens"]
    reports = [json.loads((x.parent / "eval" / "report.json").read_text()) for x in (a, b)]
    assert list(reports[1]["datasets"]) == ["gospels", "udhr"]
    for model in ("teacher", "trim"):
        assert reports[0]["models"][model]["retrieval"]["bible-test"] == reports[1]["models"][model]["retrieval"]["gospels"]
