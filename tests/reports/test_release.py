"""Release folders on a tiny in-process teacher: loading offline, the card, checksums, refusals."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from polyglot_kd.pipeline import build

from polyglot_kd.pipeline.release import rescore
from polyglot_kd.reports import release
from polyglot_kd.cli import main
from polyglot_kd.core.pooling import encode
from polyglot_kd.core.errors import ConfigError, PolyglotError
from polyglot_kd.reports.model_card import card_scores
from polyglot_kd.core.loading import load_model_and_tokenizer
from polyglot_kd.pipeline.stages.release import release_folder
from tests.tiny import EN, PT


@pytest.fixture
def offline(monkeypatch):
    """No network at all: HF offline mode, and any socket connection fails loudly."""
    import huggingface_hub.constants

    def refuse(*args, **kwargs):
        raise OSError("this test must not use the network")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def released(tiny_world):
    config, workdir = tiny_world
    config.release.speed_sentences, config.release.speed_rounds = 6, 1
    manifests = build.run_build(config, workdir, ["trim", "eval", "release"])
    folder = release_folder(build.Build(config, workdir / "pt"))
    return config, workdir, folder, manifests


def test_release_folder_has_the_model_layout_card_and_checksums(released):
    config, workdir, folder, manifests = released
    assert folder == workdir / "pt/release" / f"{(workdir.parent / 'teacher').name}-pt-trim"
    files = set(release.released_files(folder))
    assert files == {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                     "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                     "1_Pooling/config.json", "README.md"}
    listed = [line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()]
    assert sorted(listed) == sorted(files)
    assert release.verify_release(folder) == len(files)
    # weights are the trim stage's, byte for byte
    assert (folder / "model.safetensors").read_bytes() == (workdir / "pt/trim/model/model.safetensors").read_bytes()
    modules = json.loads((folder / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    pooling = json.loads((folder / "1_Pooling/config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    metrics = manifests["release"]["metrics"]
    assert metrics["model"] == "trim" and metrics["speed"]["speedup"] > 0 and metrics["files"] == len(files)


def test_release_loads_offline_with_automodel_and_sentence_transformers(released, offline):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    config, workdir, folder, _ = released
    texts = EN + PT
    ours = encode(*load_model_and_tokenizer(workdir / "pt/trim/model"), texts)  # mean-pooled, normalised
    model = AutoModel.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    np.testing.assert_allclose(encode(model, tokenizer, texts), ours, atol=1e-5)
    st = SentenceTransformer(str(folder), device="cpu")
    assert st.max_seq_length == config.eval.max_length
    assert getattr(st[0].auto_model, "pooler", None) is None  # no randomly initialised pooler
    np.testing.assert_allclose(st.encode(texts, convert_to_numpy=True), ours, atol=1e-5)


def test_card_metadata_and_scores_are_reproduced(released, offline):
    from huggingface_hub import ModelCard

    config, workdir, folder, _ = released
    card = ModelCard.load(folder / "README.md")
    assert card.data.language == ["pt", "en"]
    assert card.data.library_name == "sentence-transformers" and card.data.license == "other"
    assert "vocabulary-trimming" in card.data.tags
    report = json.loads((workdir / "pt/eval/report.json").read_text())
    stated = card_scores(folder / "README.md")
    expected = {d: 100 * s["mean"] for d, s in report["models"]["trim"]["retrieval"].items()}
    assert stated.keys() == expected.keys() == {"bible-test", "udhr"}
    for dataset, score in rescore(folder, config).items():
        assert abs(score - stated[dataset]) <= 0.1, dataset
        assert abs(stated[dataset] - expected[dataset]) <= 0.01
    text = card.text
    teacher_bible = 100 * report["models"]["teacher"]["retrieval"]["bible-test"]["mean"]
    assert f"| {teacher_bible:.1f} |" in text  # the teacher's score beside ours
    assert "Ushio" in text and "sentences/s" in text and "transformers 4." in text
    assert '"top_n": 40' in text  # the trim stage's settings, from its manifest


def test_verify_release_names_the_file_that_changed(released):
    _, _, folder, _ = released
    tok = folder / "tokenizer.json"
    tok.write_text(tok.read_text().replace('"<unk>"', '"<UNK>"', 1))
    with pytest.raises(release.ReleaseMismatch) as err:
        release.verify_release(folder)
    assert err.value.files == ["tokenizer.json"] and "tokenizer.json: modified" in str(err.value)
    (folder / "1_Pooling/config.json").unlink()
    (folder / "notes.txt").write_text("added later")
    with pytest.raises(release.ReleaseMismatch) as err:
        release.verify_release(folder)
    assert err.value.files == ["1_Pooling/config.json", "notes.txt", "tokenizer.json"]
    assert "1_Pooling/config.json: missing" in str(err.value) and "notes.txt: extra file" in str(err.value)
    (folder / "SHA256SUMS").unlink()
    with pytest.raises(release.ReleaseMismatch, match="SHA256SUMS: missing"):
        release.verify_release(folder)


def test_unevaluated_build_is_refused_naming_the_stage(tiny_world):
    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim"])
    with pytest.raises(PolyglotError, match="not been evaluated: stage 'eval' is missing"):
        build.run_build(config, workdir, ["release"])
    assert not (workdir / "pt/release").exists() and not (workdir / "pt/.release.partial").exists()
    build.run_build(config, workdir, ["eval"])
    config.trim.top_n = 20  # the trimmed model changes after it was evaluated
    build.run_build(config, workdir, ["trim"])
    with pytest.raises(PolyglotError, match="stage 'eval' has not scored"):
        build.run_build(config, workdir, ["release"])


def test_release_of_a_stage_that_makes_no_model_is_a_config_error(tiny_world):
    from polyglot_kd.config import parse_config

    with pytest.raises(ConfigError, match="release.model: 'eval' is not a stage that makes a model"):
        parse_config({"code": "pt", "corpus": {"bible": "a"}, "release": {"model": "eval", "name": "a/b"}})
    with pytest.raises(ConfigError, match="release.name: 'a/b'"):
        parse_config({"code": "pt", "corpus": {"bible": "a"}, "release": {"name": "a/b"}})


def test_artifacts_of_a_stage_ship_in_their_own_folder(tiny_world):
    config, workdir = tiny_world
    config.release.speed_sentences = 0
    build.run_build(config, workdir, ["trim"])
    sft = workdir / "pt/trim/artifacts/sft-pt"  # what an LT-SFT or adapter stage would leave
    sft.mkdir(parents=True)
    (sft / "diff.safetensors").write_bytes(b"sparse difference")
    manifests = build.run_build(config, workdir, ["eval", "release"])
    folder = release_folder(build.Build(config, workdir / "pt"))
    assert (folder / "artifacts/trim/sft-pt/diff.safetensors").read_bytes() == b"sparse difference"
    assert "artifacts/trim/sft-pt/diff.safetensors" in (folder / "SHA256SUMS").read_text()
    assert "`artifacts/trim/sft-pt/`" in (folder / "README.md").read_text()
    assert manifests["release"]["metrics"]["artifacts"] == ["artifacts/trim/sft-pt"]
    assert manifests["release"]["metrics"]["speed"] is None
    assert "encoding speed: not measured" in (folder / "README.md").read_text()


def test_cli_release_copies_skips_and_refuses_a_tampered_folder(tiny_world, tmp_path, monkeypatch, capsys):
    config, workdir = tiny_world
    languages = tmp_path / "languages"
    languages.mkdir()
    (languages / "pt.toml").write_text(
        f'name = "Portuguese"\nteacher = "{config.teacher}"\n[corpus]\nbible = "a"\nudhr = "por_BR"\n'
        '[trim]\ntop_n = 40\n[release]\nspeed_sentences = 0\n')
    monkeypatch.setenv("POLYGLOT_KD_LANGUAGES", str(languages))
    assert main(["release", "pt", "--workdir", str(workdir)]) == 2
    assert "cannot release pt: no model stage (trim, embed-init, distill, stack) has finished" in capsys.readouterr().err
    assert main(["build", "pt", "--workdir", str(workdir), "--stages", "trim,eval"]) == 0
    out = tmp_path / "published"
    assert main(["release", "pt", "--workdir", str(workdir), "--out", str(out)]) == 0
    assert release.verify_release(out) == 10 and f"release: {out}" in capsys.readouterr().out
    folder = release_folder(build.Build(config, workdir / "pt"))
    first = (workdir / "pt/release/manifest.json").read_text()
    assert main(["release", "pt", "--workdir", str(workdir)]) == 0  # up to date: skipped
    assert (workdir / "pt/release/manifest.json").read_text() == first
    (folder / "config.json").write_text("{}")
    assert main(["release", "pt", "--workdir", str(workdir)]) == 2
    err = capsys.readouterr().err
    assert "config.json: modified" in err and "--force" in err
    assert main(["release", "pt", "--workdir", str(workdir), "--force"]) == 0
    assert release.verify_release(folder) == 10


def test_push_verifies_then_uploads_the_folder(released, monkeypatch):
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create", repo_id))

        def upload_folder(self, folder_path, repo_id, **kwargs):
            calls.append(("upload", repo_id, folder_path))
            return type("Commit", (), {"commit_url": f"https://hub/{repo_id}/commit/1"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    _, _, folder, _ = released
    assert release.push_release(folder, "me/e5-small-pt") == "https://hub/me/e5-small-pt/commit/1"
    assert calls == [("create", "me/e5-small-pt"), ("upload", "me/e5-small-pt", str(folder))]
    (folder / "extra.bin").write_bytes(b"x")
    with pytest.raises(release.ReleaseMismatch, match="extra.bin"):
        release.push_release(folder, "me/e5-small-pt")
    assert len(calls) == 2  # nothing uploaded from a folder that fails verification


def test_weights_in_other_formats_are_released_as_safetensors(tmp_path):
    from tests.tiny import bert_encoder, unigram_tokenizer

    source = tmp_path / "model"
    tokenizer = unigram_tokenizer()
    model = bert_encoder(len(tokenizer), tokenizer.pad_token_id)
    model.save_pretrained(source, safe_serialization=False)
    tokenizer.save_pretrained(source)
    assert (source / "pytorch_model.bin").is_file()
    release.copy_model(source, tmp_path / "out")
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert "model.safetensors" in names and "pytorch_model.bin" not in names
    loaded, tok = load_model_and_tokenizer(tmp_path / "out")
    np.testing.assert_allclose(encode(loaded, tok, EN), encode(model, tokenizer, EN), atol=1e-6)


def test_int8_release_ships_an_onnx_file_scored_and_timed_beside_the_model(tiny_world):
    from polyglot_kd.pipeline import int8

    config, workdir = tiny_world
    config.release.speed_sentences, config.release.speed_rounds, config.release.int8 = 6, 1, True
    manifests = build.run_build(config, workdir, ["trim", "eval", "release"])
    folder = release_folder(build.Build(config, workdir / "pt"))
    onnx_file = folder / int8.ONNX_DIR / int8.ONNX_INT8
    assert onnx_file.stat().st_size > 0 and f"{int8.ONNX_DIR}/{int8.ONNX_INT8}" in (folder / "SHA256SUMS").read_text()
    assert release.verify_release(folder) == len(release.released_files(folder))
    # the int8 graph gives the float model's embeddings, up to quantisation error
    model, tokenizer = load_model_and_tokenizer(folder)
    texts = EN[:4] + PT[:4]
    exact = encode(model, tokenizer, texts)
    quantised = int8.OnnxEncoder(onnx_file, tokenizer)(texts)
    assert quantised.shape == exact.shape and np.allclose(np.linalg.norm(quantised, axis=1), 1, atol=1e-4)
    assert (quantised * exact).sum(1).min() > 0.9  # cosine to the float embedding
    card = (folder / "README.md").read_text()
    assert "### Int8 export" in card and "x the teacher's speed" in card
    metrics = manifests["release"]["metrics"]
    assert metrics["int8"]["speedup"] > 0 and set(metrics["int8"]["scores"]) == set(metrics["scores"])


def test_a_factorised_student_releases_and_loads_with_sentence_transformers(tiny_world, offline):
    from sentence_transformers import SentenceTransformer

    config, workdir = tiny_world
    config.release.speed_sentences = 0
    config.distill.steps, config.distill.student_layers, config.distill.embedding_rank = 2, 1, 8
    config.distill.eval_every, config.distill.chosen_by = 0, "budget params=1x: a test point"
    build.run_build(config, workdir, ["trim", "distill", "eval", "release"])
    folder = release_folder(build.Build(config, workdir / "pt"))
    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True, trust_remote_code=True)
    model, tokenizer = load_model_and_tokenizer(folder)
    assert model.config.embedding_rank == 8
    assert np.allclose(st.encode(EN[:3], normalize_embeddings=True), encode(model, tokenizer, EN[:3]), atol=1e-5)
    assert "Student shape: budget params=1x: a test point." in (folder / "README.md").read_text()


def test_static_model_is_distilled_scored_and_timed_beside_the_model(tmp_path):
    """On a tiny WordPiece encoder: model2vec probes a tokenizer with 'a', which the tiny unigram
    tokenizer splits in two, so the tiny world's trimmed model cannot stand in here."""
    from model2vec import StaticModel

    from polyglot_kd.data.bible import ParallelSet
    from polyglot_kd.pipeline import static
    from tests.tiny import save_tiny_model

    model_dir = save_tiny_model(tmp_path / "model", kind="wordpiece")
    folder = tmp_path / "release"
    folder.mkdir()
    result = static.export_and_measure(model_dir, folder, model_dir, [ParallelSet("tiny", EN, PT)], EN + PT,
                                       batch_size=4, max_length=16, prefix="", rounds=1)
    loaded = StaticModel.from_pretrained(str(folder / static.STATIC_DIR))
    vectors = loaded.encode(EN[:3])
    assert vectors.shape == (3, 32) and np.isfinite(vectors).all() and np.abs(vectors).sum() > 0
    assert set(result["scores"]) == {"tiny"} and 0 <= result["scores"]["tiny"]["mean"] <= 1
    assert result["speedup"] > 0 and set(result["sentences_per_second"]) == {"static", "model", "teacher"}
    assert result["bytes"] > 0 and not (folder / f"{static.STATIC_DIR}.partial").exists()
