"""The trim+eval build on the real teacher and real verses (a small sample, to stay fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from polyglot_kd.pipeline import build
from polyglot_kd.config import load_language
from polyglot_kd.data import bible, udhr
from polyglot_kd.core.loading import load_model_and_tokenizer
from polyglot_kd.sources.teacher import resolve_teacher

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def pt_build(tmp_path_factory):
    config = load_language("pt", {"eval": {"max_items": 150, "baselines": []}})
    workdir = tmp_path_factory.mktemp("builds")
    manifests = build.run_build(config, workdir, ["trim", "eval"])
    return config, workdir / "pt", manifests


def test_bible_split_keeps_the_gospels_out_of_training():
    train = set(bible.verses("a", "train"))
    test = bible.parallel("4", "a", "test")
    assert len(test) > 3000 and not train & set(test.target)
    assert len(set(test.source)) == len(test.source)  # Gospel duplicates dropped
    assert len(bible.verses("4", "train")) > 25000
    assert len(udhr.parallel("eng", "por_BR")) >= 30


def test_trimmed_model_is_small_and_loads(pt_build):
    _, root, manifests = pt_build
    metrics = manifests["trim"]["metrics"]
    assert metrics["param_ratio"] <= 0.26  # 0.245x by rule, plus the kept characters
    assert metrics["coverage"]["bible-test/target"]["token_coverage"] > 0.98
    model, tok = load_model_and_tokenizer(root / "trim" / "model")
    assert model.config.vocab_size == len(tok) == metrics["vocab_after"]


def test_kept_pieces_segment_held_out_verses_like_the_teacher(pt_build):
    _, root, _ = pt_build
    _, teacher_tok = load_model_and_tokenizer(resolve_teacher("e5-small"))
    _, trimmed_tok = load_model_and_tokenizer(root / "trim" / "model")
    kept = set(np.load(root / "trim" / "kept_ids.npy").tolist())
    checked = 0
    for text in bible.parallel("4", "a", "test", max_items=300).target:
        ids = teacher_tok(text, add_special_tokens=False)["input_ids"]
        if set(ids) <= kept:
            assert trimmed_tok.tokenize(text) == teacher_tok.tokenize(text)
            checked += 1
    assert checked > 200


def test_trimmed_retrieval_matches_the_teacher(pt_build):
    _, root, _ = pt_build
    report = json.loads((root / "eval" / "report.json").read_text())
    teacher, trimmed = report["models"]["teacher"]["retrieval"], report["models"]["trim"]["retrieval"]
    assert report["datasets"]["bible-test"] == 150
    assert teacher["bible-test"]["mean"] > 0.85
    for dataset in ("bible-test", "udhr"):
        assert abs(trimmed[dataset]["mean"] - teacher[dataset]["mean"]) <= 0.02


def test_release_loads_and_reproduces_its_card(pt_build):
    import copy

    from polyglot_kd.reports.model_card import card_scores
    from polyglot_kd.pipeline.release import rescore
    from polyglot_kd.reports.release import verify_release
    from polyglot_kd.pipeline.stages.release import release_folder

    config, root, _ = pt_build
    config = copy.deepcopy(config)
    config.release.speed_sentences, config.release.speed_rounds = 16, 1
    build.run_build(config, root.parent, ["release"])
    folder = release_folder(build.Build(config, root))
    assert folder.name == "e5-small-pt-trim" and verify_release(folder) == 10
    stated = card_scores(folder / "README.md")
    assert set(stated) == {"bible-test", "udhr", "django-messages"}  # the held-out software messages too
    for dataset, score in rescore(folder, config).items():  # SentenceTransformer on the real held-out data
        assert abs(score - stated[dataset]) <= 0.1, dataset
    assert "base_model: intfloat/multilingual-e5-small" in (folder / "README.md").read_text()
