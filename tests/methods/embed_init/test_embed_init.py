"""Embedding initialisation (OFA, FOCUS, mean, random), the factorised embedding, the embed-init stage."""

from __future__ import annotations

import json
import logging
import struct

import numpy as np
import pytest
import torch
from transformers import AutoModel

from polyglot_kd.pipeline import build

from polyglot_kd.methods.embed_init import initialise as embed_init

from polyglot_kd.methods.embed_init import word_vectors
from polyglot_kd.config import parse_config
from polyglot_kd.methods.embed_init.config import EmbedInitConfig
from polyglot_kd.data import bible
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.core.errors import ConfigError, PolyglotError
from polyglot_kd.methods.embed_init.factorised import FactorisedBertConfig, FactorisedBertModel, FactorisedEmbedding
from polyglot_kd.core.loading import load_encoder, load_tokenizer
from polyglot_kd.methods.embed_init.target_tokenizer import fertility, train_unigram
from tests.tiny import CORPUS, unigram_tokenizer

EN = ["the cat sleeps on the sofa", "the dog runs in the garden", "a bird sings in the morning",
      "the cat runs to the dog", "a dog sleeps in the morning"]
PT = ["o gato dorme no sofá", "o cão corre no jardim", "um pássaro canta de manhã",
      "o gato corre para o cão", "um cão dorme de manhã"]


def tiny_factorised(rank=4, vocab=50, hidden=32) -> FactorisedBertModel:
    cfg = FactorisedBertConfig(embedding_rank=rank, vocab_size=vocab, hidden_size=hidden, num_hidden_layers=1,
                               num_attention_heads=4, intermediate_size=64, max_position_embeddings=64, pad_token_id=1)
    return FactorisedBertModel(cfg, add_pooling_layer=False).eval()



def test_factorised_embedding_saves_and_loads_with_the_model(tmp_path):
    model = tiny_factorised()
    ids = torch.tensor([[0, 5, 7, 2], [0, 9, 1, 1]])
    mask = (ids != 1).long()
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert (tmp_path / "factorised.py").is_file()  # travels with the model for trust_remote_code loading
    assert json.loads((tmp_path / "config.json").read_text())["auto_map"]["AutoModel"] == "factorised.FactorisedBertModel"
    for loaded in (AutoModel.from_pretrained(tmp_path, add_pooling_layer=False), load_encoder(tmp_path)):
        emb = loaded.get_input_embeddings()
        assert isinstance(emb, FactorisedEmbedding) and emb.rank == 4
        assert torch.equal(emb.coordinates, model.get_input_embeddings().coordinates)
        assert torch.equal(emb.primitives, model.get_input_embeddings().primitives)
        assert torch.allclose(loaded(input_ids=ids, attention_mask=mask).last_hidden_state,
                              model(input_ids=ids, attention_mask=mask).last_hidden_state)
    merged = model.merged_copy()
    assert type(merged).__name__ == "BertModel"
    assert torch.allclose(merged(input_ids=ids, attention_mask=mask).last_hidden_state,
                          model(input_ids=ids, attention_mask=mask).last_hidden_state, atol=1e-5)
    params = embed_init.embedding_parameters(model)
    assert params == 50 * 4 + 4 * 32


def test_factorise_reconstructs_at_full_rank_and_refuses_a_rank_above_hidden():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(40, 8)).astype(np.float32)
    coords, prims = embed_init.factorise(e, 8)
    assert prims is None and np.array_equal(coords, e)
    coords, prims = embed_init.factorise(e, 3)
    assert coords.shape == (40, 3) and prims.shape == (3, 8)
    full_coords, full_prims = embed_init.factorise(e, 7)
    assert np.abs(full_coords @ full_prims - e).max() < np.abs(coords @ prims - e).max()  # more rank, closer
    with pytest.raises(PolyglotError, match=r"rank: 9 is above the model's hidden size 8"):
        embed_init.factorise(e, 9)


def test_ofa_weights_sum_to_one_and_favour_the_most_similar():
    sim = np.array([[0.9, 0.1, 0.5, -0.2], [0.0, 0.3, 0.2, 0.8]], np.float32)
    top, w = embed_init.neighbour_weights(sim, k=3, temperature=0.1)
    assert top.shape == (2, 3) and np.allclose(w.sum(1), 1)
    assert top[0][w[0].argmax()] == 0 and top[1][w[1].argmax()] == 3 and 3 not in top[0]
    sparse = embed_init.sparsemax(sim)
    assert np.allclose(sparse.sum(1), 1) and (sparse >= 0).all() and (sparse == 0).any()


@pytest.fixture
def tokenizers(tmp_path):
    source = unigram_tokenizer(50)  # mostly characters: the new tokenizer has whole words it lacks
    target = train_unigram(source, CORPUS[:9] * 5, 60, tmp_path / "tok")
    return source, target


def _vectors(words, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    return word_vectors.WordVectors(["en"] * len(words), list(words), rng.normal(size=(len(words), dim)).astype(np.float32))


@pytest.mark.parametrize("method", ["ofa", "focus", "mean"])
def test_shared_tokens_are_copied_exactly(tokenizers, method, tmp_path, monkeypatch):
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path / "cache"))
    source, target = tokenizers
    basis = np.random.default_rng(1).normal(size=(len(source), 5)).astype(np.float32)
    words = sorted({w for line in CORPUS[:14] for w in line.split()})
    cfg = EmbedInitConfig(method=method, vector_dim=6, min_count=1, fasttext_epochs=2)
    inp = embed_init.InitInputs(source, target, basis, cfg, ("en", "pt"), _vectors(words), CORPUS[:9] * 5)
    result = embed_init.initialise(method, inp)
    shared = embed_init.shared_tokens(source, target)
    assert shared and result.matrix.shape == (len(target), 5)
    for new, old in shared.items():
        assert np.array_equal(result.matrix[new], basis[old])
    assert result.counts["copied"] == len(shared)
    assert sum(v for k, v in result.counts.items() if k != "old_tokens_with_vectors") == len(target)


def test_fasttext_vectors_are_the_same_on_a_rerun(tokenizers, tmp_path, monkeypatch):
    """fastText has no seed; what makes a rerun (in a fresh cache) give the same vectors is one thread."""
    _, target = tokenizers
    cfg = EmbedInitConfig(method="focus", vector_dim=6, min_count=1, fasttext_epochs=2)
    runs = []
    for rerun in ("first", "second"):
        monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path / rerun))
        model = embed_init.focus_fasttext(target, CORPUS[:9] * 5, cfg)
        runs.append(np.stack([model.get_word_vector(w) for w in model.words]))
        pairs = word_vectors.build_default(CORPUS[:9], CORPUS[9:18], ("en", "pt"), dim=6, epochs=2, min_count=1)
        runs.append(word_vectors.load(str(pairs)).matrix)
    assert np.isfinite(runs[0]).all() and np.array_equal(runs[0], runs[2])
    assert np.array_equal(runs[1], runs[3])


def test_ofa_new_token_is_a_convex_combination_of_old_rows(tokenizers):
    source, target = tokenizers
    basis = np.random.default_rng(1).normal(size=(len(source), 5)).astype(np.float32)
    words = sorted({w for line in CORPUS[:14] for w in line.split()})
    cfg = EmbedInitConfig(top_k=3)
    result = embed_init.init_ofa(embed_init.InitInputs(source, target, basis, cfg, ("en", "pt"), _vectors(words)))
    assert result.counts["neighbours"] > 0
    shared = embed_init.shared_tokens(source, target)
    new = [i for i in range(len(target)) if i not in shared]
    lo, hi = basis.min(0) - 1e-5, basis.max(0) + 1e-5
    for i in new:  # a convex combination stays within the old rows' bounding box (random rows may not)
        if result.matrix[i] is not None and ((result.matrix[i] >= lo) & (result.matrix[i] <= hi)).all():
            break
    else:
        pytest.fail("no new token was placed among the old rows")


def test_new_tokenizer_keeps_specials_and_cuts_fertility(tokenizers):
    source, target = tokenizers
    assert target.convert_ids_to_tokens(target("o gato")["input_ids"])[0] == "<s>"
    assert target.pad_token == "<pad>" and target.unk_token_id is not None
    assert fertility(target, PT[:3]) < fertility(source, PT[:3])


def test_vocab_size_beyond_the_corpus_is_refused(tmp_path):
    with pytest.raises(PolyglotError, match=r"vocab_size: 5,000 pieces is more than .* supports"):
        train_unigram(unigram_tokenizer(300), EN, 5000, tmp_path / "tok")
    with pytest.raises(PolyglotError, match=r"vocab_size: 10 pieces cannot hold the .* characters"):
        train_unigram(unigram_tokenizer(300), EN, 10, tmp_path / "tok")


# ---------------------------------------------------------------- vectors files

def write_vec(path, rows: dict[str, list[float]], header=True):
    dim = len(next(iter(rows.values())))
    lines = [f"{len(rows)} {dim}"] if header else []
    lines += [k + " " + " ".join(map(str, v)) for k, v in rows.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_vector_files_are_read_in_every_text_form(tmp_path):
    vec = write_vec(tmp_path / "a.vec", {"en:cat": [1, 0, 0], "pt:gato": [0.9, 0.1, 0], "sofa": [0, 0, 1]})
    colex = write_vec(tmp_path / "b.txt", {"en:cat": [1, 0], "pt:gato": [1, 0]}, header=False)
    v = word_vectors.load(str(vec))
    assert v.dim == 3 and v.of("pt")[0] == ["gato", "sofa"] and v.of("en")[0] == ["cat", "sofa"]
    assert word_vectors.load(str(colex), "colexnet").dim == 2
    assert word_vectors.check_file(str(vec), expected_dim=3) == []
    saved = tmp_path / "c.vec"
    word_vectors.save_vec(v, saved)
    assert word_vectors.load(str(saved)).words == v.words


def test_bad_vector_files_are_named_with_what_was_expected(tmp_path):
    vec = write_vec(tmp_path / "a.vec", {"cat": [1, 0, 0], "dog": [0, 1, 0]})
    (problem,) = word_vectors.check_file(str(vec), expected_dim=100)
    assert "3-dimensional" in problem and "vector_dim = 100" in problem
    ragged = tmp_path / "r.vec"
    ragged.write_text("2 3\ncat 1 0 0\ndog 1 0\n")
    assert "[2, 3]" in word_vectors.check_file(str(ragged))[0]
    words = tmp_path / "w.vec"
    words.write_text("cat dog mouse\nbird fish frog\n")
    assert "expected 'word v1 ... vd' with numbers" in word_vectors.check_file(str(words))[0]
    not_bin = write_vec(tmp_path / "x.bin", {"cat": [1, 0]})
    assert "is not a fastText .bin model" in word_vectors.check_file(str(not_bin))[0]
    binary = tmp_path / "y.vec"
    binary.write_bytes(struct.pack("<i", word_vectors.FASTTEXT_BIN_MAGIC) + bytes(range(128, 256)))
    assert "not UTF-8 text" in word_vectors.check_file(str(binary))[0]
    assert "no file at" in word_vectors.check_file(str(tmp_path / "missing.vec"))[0]


def test_bli_counts_a_hit_only_for_a_gold_translation():
    v = word_vectors.WordVectors(["en", "en", "sw", "sw"], ["cat", "dog", "paka", "mbwa"],
                                 np.array([[1, 0], [0, 1], [0.9, 0.1], [0.2, 0.8]], np.float32))
    assert word_vectors.bli_precision(v, "en", "sw", {"cat": {"paka"}, "dog": {"mbwa"}})["precision_at_1"] == 1.0
    assert word_vectors.bli_precision(v, "en", "sw", {"cat": {"mbwa"}, "dog": {"paka"}})["precision_at_1"] == 0.0
    assert word_vectors.bli_precision(v, "en", "sw", {"cat": {"cat"}})["pairs"] == 0  # identical strings left out


# ---------------------------------------------------------------- the stage in a tiny build

@pytest.fixture
def world(tiny_world, monkeypatch):
    config, workdir = tiny_world
    monkeypatch.setattr(bible, "verses", lambda code, split: (EN[:-2] if code == "4" else PT[:-2]) * 10)
    monkeypatch.setattr(bible, "parallel", lambda s, t, split, max_items=None, seed=0: ParallelSet(
        f"bible-{split}", *((EN[-2:], PT[-2:]) if split == "test" else (EN[:-2], PT[:-2]))))  # test: held out
    data = config.to_dict()
    data["embed_init"] = {"vocab_size": 40, "rank": 8, "vector_dim": 8, "min_count": 1, "fasttext_epochs": 2,
                          "bli_pairs": "", "warmup_steps": 2}
    data["stages"] = ["trim", "embed-init", "distill", "eval"]
    data["distill"]["eval_every"] = 0
    return data, workdir


def test_the_stage_runs_in_a_tiny_build_and_distill_starts_from_it(world, caplog):
    data, workdir = world
    data["distill"]["aligned_losses"] = False
    config = parse_config(data)
    assert config.distill.hidden_weight and config.distill.attention_weight  # on by default
    with caplog.at_level(logging.WARNING):
        manifests = build.run_build(config, workdir, config.stages)
    out = workdir / "pt" / "embed-init"
    m = manifests["embed-init"]["metrics"]
    assert {"model", "init.json", "manifest.json", "config.json"} <= {p.name for p in out.iterdir()}
    assert m["vocab_new"] == 40 and m["rank"] == 8 and m["tokens"]["copied"] > 0
    assert m["embedding_params"] == 40 * 8 + 8 * 32 < m["embedding_params_base"]
    assert set(m["fertility"]) >= {"bible-test/target", "udhr/target"}
    model, tok = load_encoder(out / "model"), load_tokenizer(out / "model")
    assert isinstance(model.get_input_embeddings(), FactorisedEmbedding) and len(tok) == 40
    student = load_encoder(workdir / "pt" / "distill" / "model")
    assert isinstance(student.get_input_embeddings(), FactorisedEmbedding)
    assert manifests["distill"]["metrics"]["start"] == "embed-init"
    # the student reads through its own tokenizer and word alignment is off: the token-level losses are
    # dropped, and the log says so
    weights = manifests["distill"]["metrics"]["loss_weights"]
    assert weights["hidden_weight"] == weights["attention_weight"] == 0 and weights["pooled_weight"] == 1
    assert "token-level losses hidden_weight, attention_weight do not apply" in caplog.text
    assert len(load_tokenizer(workdir / "pt" / "distill" / "model")) == 40
    report = json.loads((workdir / "pt" / "eval" / "report.json").read_text())
    assert {"teacher", "trim", "embed-init", "distill"} <= set(report["models"])


def test_a_student_with_its_own_tokenizer_keeps_word_aligned_token_losses(world):
    data, workdir = world
    config = parse_config(data)
    assert config.distill.aligned_losses  # the default
    manifests = build.run_build(config, workdir, ["trim", "embed-init", "distill"])
    weights = manifests["distill"]["metrics"]["loss_weights"]
    assert weights["hidden_weight"] == weights["attention_weight"] == 1
    losses = [json.loads(line) for line in (workdir / "pt" / "distill" / "metrics.jsonl").read_text().splitlines()]
    trained = [r for r in losses if "hidden" in r]
    assert trained and all(r["hidden"] > 0 and r["attention"] >= 0 for r in trained)


def test_full_rank_gives_a_plain_model(world):
    data, workdir = world
    data["embed_init"].update(rank=0, method="mean")
    config = parse_config(data)
    build.run_build(config, workdir, ["trim", "embed-init"])
    model = load_encoder(workdir / "pt" / "embed-init" / "model")
    assert type(model).__name__ == "BertModel" and model.get_input_embeddings().weight.shape == (40, 32)


def test_bad_inputs_fail_before_any_work_all_at_once(world, tmp_path):
    data, workdir = world
    vec = write_vec(tmp_path / "v.vec", {"xx:qwerty": [1.0] * 5, "xx:zxcv": [0.5] * 5})
    data["embed_init"].update(rank=64, vocab_size=5000, vectors=str(vec), vector_dim=5)
    with pytest.raises(ConfigError) as err:
        build.run_build(parse_config(data), workdir, data["stages"])
    text = str(err.value)
    assert "rank: 64 is above the model's hidden size 32" in text
    assert "vocab_size: 5,000 pieces is more than the tokenizer's training text supports" in text
    assert not (workdir / "pt" / "trim").exists()  # nothing ran
    data["embed_init"].update(rank=4, vocab_size=40)
    with pytest.raises(ConfigError, match="no overlap with the tokenizer"):
        build.run_build(parse_config(data), workdir, data["stages"])
    data["embed_init"]["vector_dim"] = 100
    with pytest.raises(ConfigError, match="5-dimensional vectors, expected embed_init.vector_dim = 100"):
        build.run_build(parse_config(data), workdir, data["stages"])


def test_config_checks_name_the_value():
    with pytest.raises(ConfigError) as err:
        parse_config({"code": "pt", "corpus": {"bible": "a"},
                      "embed_init": {"method": "ofaa", "rank": -1, "temperature": 0, "vectors_format": "txt"}})
    text = str(err.value)
    assert "'ofaa' is not one of" in text and "did you mean 'ofa'" in text
    assert "rank: -1 must be >= 0" in text and "temperature: 0.0 must be > 0" in text and "'txt'" in text


def test_a_new_tokenizer_without_a_sentence_level_loss_is_refused_before_work(world):
    """Without word alignment, a student with its own tokenizer has only sentence-level losses to learn from."""
    data, workdir = world
    data["distill"].update(pooled_weight=0.0, contrastive_weight=0.0, hidden_weight=1.0, aligned_losses=False)
    with pytest.raises(ConfigError, match="only the sentence-level losses apply"):
        build.run_build(parse_config(data), workdir, data["stages"])
    assert not (workdir / "pt").exists()


def test_a_saved_factorised_model_loads_without_polyglot_kd(tmp_path):
    import subprocess
    import sys

    model = tiny_factorised()
    model.save_pretrained(tmp_path / "m", safe_serialization=True)
    ids = torch.tensor([[0, 5, 7, 2]])
    expected = model(input_ids=ids).last_hidden_state[0, 1, :3].tolist()
    code = ("import sys, torch; sys.modules['polyglot_kd'] = None\n"  # importing polyglot_kd would fail
            "from transformers import AutoModel\n"
            f"m = AutoModel.from_pretrained({str(tmp_path / 'm')!r}, trust_remote_code=True, add_pooling_layer=False).eval()\n"
            "print(type(m).__name__, m(input_ids=torch.tensor([[0, 5, 7, 2]])).last_hidden_state[0, 1, :3].tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    name, values = out.stdout.strip().split(" ", 1)
    assert name == "FactorisedBertModel" and np.allclose(json.loads(values), expected, atol=1e-5)


def test_warm_up_trains_the_new_embeddings_alone_and_records_dev_retrieval(world):
    data, workdir = world
    data["embed_init"]["warmup_steps"] = 4
    manifests = build.run_build(parse_config(data), workdir, ["trim", "embed-init"])
    warm = manifests["embed-init"]["metrics"]["warmup"]
    assert warm["steps"] == 4 and warm["training"]["steps"] == 4
    assert set(warm["trained"]) == {"embeddings.word_embeddings.coordinates", "embeddings.word_embeddings.primitives"}
    assert "dev_retrieval" in warm["dev_before"] and "dev_retrieval" in warm["dev_after"]
    warmed = load_encoder(workdir / "pt" / "embed-init" / "model").state_dict()
    trimmed = load_encoder(workdir / "pt" / "trim" / "model").state_dict()
    body = [k for k in warmed if "word_embeddings" not in k]
    assert body and all(torch.equal(warmed[k], trimmed[k]) for k in body)  # the body stayed frozen
    cold_dir = workdir / "cold"
    data["embed_init"]["warmup_steps"] = 0
    build.run_build(parse_config(data), cold_dir, ["trim", "embed-init"])
    cold = load_encoder(cold_dir / "pt" / "embed-init" / "model").state_dict()
    assert not torch.equal(cold["embeddings.word_embeddings.coordinates"], warmed["embeddings.word_embeddings.coordinates"])
    assert load_encoder(workdir / "pt" / "embed-init" / "model").config.hidden_dropout_prob == \
        load_encoder(workdir / "pt" / "trim" / "model").config.hidden_dropout_prob  # dropout kept for later fine-tuning


def test_warm_up_settings_are_checked():
    problems = EmbedInitConfig(warmup_steps=-1, warmup_lr=0).check()
    assert any("embed_init.warmup_steps: -1" in p for p in problems) and any("embed_init.warmup_lr: 0" in p for p in problems)


def test_an_ofa_frontier_point_cuts_its_student_from_its_own_embed_init_model(world):
    from polyglot_kd.pipeline import frontier

    data, workdir = world
    data["embed_init"]["warmup_steps"] = 2
    config = parse_config(data)
    table = frontier.run_frontier(config, workdir, "1,1+ofa,2+ofa", steps=2, speed_sentences=2)
    plain, ofa, deeper = table["points"]
    assert ofa["point"] == "L1-Wfull-ofa" and ofa["ofa"] and "ofa" not in plain
    folder = workdir / "pt" / "frontier" / "L1-Wfull-ofa"
    distilled = json.loads((folder / "distill" / "manifest.json").read_text())["metrics"]
    assert distilled["start"] == "embed-init" and (folder / "embed-init" / "manifest.json").is_file()
    shared = workdir / "pt" / "frontier" / "_embed-init" / "embed-init"
    assert (folder / "embed-init").resolve() == shared.resolve() == (folder.parent / "L2-Wfull-ofa" / "embed-init").resolve()
    assert not (workdir / "pt" / "embed-init").exists()  # the build itself is unchanged
    assert len(load_tokenizer(folder / "distill" / "model")) == 40
    assert frontier.point_of(ofa) == frontier.Point(1, 0, 0, False, True)


def test_ofa_points_take_layers_only():
    from polyglot_kd.pipeline import frontier

    with pytest.raises(PolyglotError, match="an \\+ofa student keeps the embed-init model's width"):
        frontier.parse_points("5x384r96+ofa", 12, 384, 12)
    assert frontier.parse_points("5x384+ofa", 12, 384, 12)[0].name == "L5-Wfull-ofa"
