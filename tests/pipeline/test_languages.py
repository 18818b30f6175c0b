"""Language files: shipped ones travel as package data, the user's override them, `init` writes new ones."""

from __future__ import annotations

import json
import tomllib

import pytest

from polyglot_kd import cli
from polyglot_kd.config import LANGUAGES_ENV, is_shipped, language_files, load_language, shipped_languages_dir
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.paths import repo_root
from polyglot_kd.pipeline.new_language import NewLanguage, aligned, init_language
from tests.tiny import EN, EN_TEST, PT, PT_TEST, save_tiny_model


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    folder = tmp_path / "my-languages"
    monkeypatch.setenv(LANGUAGES_ENV, str(folder))  # restored after the test, whatever the CLI sets
    return folder


def write_pair(folder, stem, pairs):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.en.txt").write_text("".join(f"{s}\n" for s, _ in pairs), encoding="utf-8")
    (folder / f"{stem}.pt.txt").write_text("".join(f"{t}\n" for _, t in pairs), encoding="utf-8")
    return [str(folder / f"{stem}.en.txt"), str(folder / f"{stem}.pt.txt")]


def test_user_files_override_shipped_ones_and_languages_says_which(user_folder, capsys):
    user_folder.mkdir()
    (user_folder / "pt.toml").write_text('name = "Mine"\n[corpus]\nbible = "a"\n')
    files = language_files()
    assert files["pt"] == user_folder / "pt.toml" and not is_shipped(files["pt"])
    assert is_shipped(files["de"]) and files["de"].parent == shipped_languages_dir()
    assert load_language("pt").name == "Mine"
    cli.main(["languages"])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert f"user {user_folder / 'pt.toml'}" in lines["pt"] and "shipped" in lines["de"]


def test_init_writes_a_file_that_build_uses(user_folder, tmp_path, monkeypatch, capsys):
    from tests.conftest import patch_tiny_corpora

    patch_tiny_corpora(monkeypatch, tmp_path / "cache")
    teacher = save_tiny_model(tmp_path / "teacher")
    train = write_pair(tmp_path / "data", "train", list(zip(EN, PT)) * 2)
    test = write_pair(tmp_path / "data", "test", list(zip(EN_TEST, PT_TEST)))
    assert cli.main(["--languages", str(user_folder), "init", "pt", "--parallel", *train, "--test", *test,
                     "--teacher", str(teacher), "--name", "Portuguese"]) == 0
    written = tomllib.loads((user_folder / "pt.toml").read_text())
    assert [s["role"] for s in written["corpus"]["sources"]] == ["train", "test"]
    assert written["corpus"]["embedded"] == [] and written["teacher"] == str(teacher)
    workdir = tmp_path / "builds"
    assert cli.main(["build", "pt", "--stages", "trim,eval", "--workdir", str(workdir)]) == 0
    report = json.loads((workdir / "pt" / "eval" / "report.json").read_text())
    assert list(report["datasets"]) == ["test"] and report["datasets"]["test"] == len(EN_TEST)
    manifest = json.loads((workdir / "pt" / "trim" / "manifest.json").read_text())
    assert manifest["metrics"]["dev_held_out_of_train"] == 1  # no dev given: held out of the training text


@pytest.mark.parametrize("code,expected", [
    ("../evil", "does not look like a language code"), ("pt/x", "does not look like a language code"),
    ("PT", "does not look like a language code"), ("yo", "did not read this language"),
    ("xx", "did not read this language")])
def test_init_refuses_codes_that_are_not_languages_of_the_teacher(user_folder, tmp_path, code, expected):
    train = write_pair(tmp_path, "train", list(zip(EN, PT)))
    with pytest.raises(PolyglotError, match=expected):
        init_language(NewLanguage(code, sources=[aligned("train", train)]))
    assert not user_folder.exists() and not (tmp_path.parent / "evil.toml").exists()


def test_init_refuses_to_overwrite_without_force_and_checks_the_sources_first(user_folder, tmp_path):
    train = write_pair(tmp_path, "train", list(zip(EN, PT)))
    test = write_pair(tmp_path, "test", list(zip(EN_TEST, PT_TEST)))
    request = NewLanguage("pt-BR", sources=[aligned("train", train), aligned("test", test)])
    path = init_language(request)
    assert path == user_folder / "pt-BR.toml" and load_language("pt-BR").corpus.sources[0].paths == train
    with pytest.raises(PolyglotError, match=r"pt-BR.toml exists; pass --force to overwrite it"):
        init_language(request)
    before = path.read_text()
    with pytest.raises(PolyglotError, match="every one of the 3 pairs of test set 'train' also occurs"):
        init_language(NewLanguage("pt-BR", sources=[aligned("train", train), aligned("test", train)]), force=True)
    assert path.read_text() == before  # a refused init leaves the old file
    with pytest.raises(PolyglotError, match="no text named"):
        init_language(NewLanguage("sw"))
    assert init_language(request, force=True) == path


def test_every_package_and_the_language_files_are_packaged():
    from setuptools import find_namespace_packages

    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set(find_namespace_packages(where=str(repo_root()), include=["polyglot_kd*"]))
    assert set(project["packages"]) == found | {"polyglot_kd.languages", "polyglot_kd.frontiers"}
    assert project["package-dir"]["polyglot_kd.languages"] == "languages"
    assert project["package-data"]["polyglot_kd.languages"] == ["*.toml"]
    assert project["package-dir"]["polyglot_kd.frontiers"] == "eval"
    assert project["package-data"]["polyglot_kd.frontiers"] == ["frontier-*.json"]


def test_init_from_a_saved_dataset_uses_its_splits(user_folder, tmp_path):
    import datasets

    def split(pairs):
        return datasets.Dataset.from_dict({"en": [s for s, _ in pairs], "pt": [t for _, t in pairs]})

    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": split(list(zip(EN, PT))), "validation": split(list(zip(EN, PT))[:2]),
                          "test": split(list(zip(EN_TEST, PT_TEST)))}).save_to_disk(str(saved))
    assert cli.main(["init", "pt", "--dataset", str(saved), "--columns", "en,pt"]) == 0
    config = load_language("pt")
    assert [(s.role, s.split) for s in config.corpus.sources] == [("train", "train"), ("dev", "validation"),
                                                                   ("test", "test")]
    assert config.corpus.sources[2].label() == "saved-test"
    assert cli.main(["init", "pt", "--dataset", str(saved), "--columns", "en,portuguese", "--force"]) == 2


def test_relative_source_paths_are_relative_to_the_language_file(user_folder):
    user_folder.mkdir()
    (user_folder / "pt.toml").write_text('[corpus]\n[[corpus.sources]]\nrole = "train"\nkind = "aligned"\n'
                                         'paths = ["../data/a.en", "b.pt"]\n[[corpus.sources]]\nrole = "test"\n'
                                         'kind = "dataset"\npath = "org/set"\ncolumns = ["en", "pt"]\n')
    sources = load_language("pt").corpus.sources
    assert sources[0].paths == [str(user_folder.parent / "data" / "a.en"), str(user_folder / "b.pt")]
    assert sources[1].path == "org/set"  # not a local folder: a hub id
