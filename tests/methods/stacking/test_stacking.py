"""The stacked model and stage-1 training on tiny in-process models (a tiny Marian encoder under a tiny BERT)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from polyglot_kd.pipeline import build

from polyglot_kd.methods.stacking.marian import port as marian_model

from polyglot_kd.methods.stacking import mt_encoders

from polyglot_kd.methods.stacking import self_distill as stack_train
from polyglot_kd.config import StackConfig, parse_config
from polyglot_kd.data import bible, udhr, wordlists
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.core.errors import ConfigError, PolyglotError
from polyglot_kd.core.loading import load_model_and_tokenizer
from polyglot_kd.methods.stacking.marian.reader import read_marian
from polyglot_kd.methods.stacking.model import StackedModel, is_stacked, retrieval_scores
from tests.marian_tiny import MT_CONFIG, marian_options, save_tiny_mt, stacked, tiny_spm, tiny_weights, write_marian
from tests.tiny import CORPUS, save_tiny_model

EN = ["the cat sleeps on the sofa", "the dog runs in the garden", "a bird sings in the morning",
      "the cat runs in the garden", "a dog sleeps in the morning", "the bird sings on the sofa"]
PT = ["o gato dorme no sofá", "o cão corre no jardim", "um pássaro canta de manhã",
      "o gato corre no jardim", "um cão dorme de manhã", "o pássaro canta no sofá"]
@pytest.mark.parametrize("enter_layer,trainable_layers", [(0, 0), (1, 1), (2, 0)])
def test_routes_shapes_and_parameters(parts, enter_layer, trainable_layers):
    model = stacked(parts, enter_layer, trainable_layers)
    pt = model.encode(PT, "pt")
    en = model.encode(EN, "en")
    assert pt.shape == en.shape == (len(PT), 32)
    np.testing.assert_allclose(np.linalg.norm(pt, axis=1), 1, atol=1e-5)
    teacher, tok = load_model_and_tokenizer(parts[0])
    from polyglot_kd.core.pooling import encode
    np.testing.assert_allclose(en, encode(teacher, tok, EN), atol=1e-6)  # English is read by the backbone itself
    trainable = sum(p.numel() for p in model.trainable_parameters())
    layer = sum(p.numel() for p in model.backbone.encoder.layer[0].parameters())
    assert trainable == 16 * 32 + 32 + (64 if enter_layer else 0) + trainable_layers * layer
    # the stacked route skips the backbone's word embeddings and every layer below the entry point
    assert model.route_parameters() < model.route_parameters("en") + model.mt.parameter_count()
    assert model.route_parameters("en") == sum(p.numel() for p in teacher.parameters())


def test_bad_stacking_choices(parts):
    with pytest.raises(PolyglotError, match="enter_layer 3 is outside the backbone's layers: expected 0 .* to 2"):
        stacked(parts, enter_layer=3)
    with pytest.raises(PolyglotError, match="trainable_layers 2: only 1 backbone layers lie above enter_layer 1"):
        stacked(parts, enter_layer=1, trainable_layers=2)
    backbone, tokenizer = load_model_and_tokenizer(parts[0])
    mt = mt_encoders.load_mt_encoder(str(parts[1]))
    with pytest.raises(PolyglotError, match="does not read 'sw'"):
        StackedModel(backbone, tokenizer, mt, "sw")


def test_save_load_round_trip_and_width_check(parts, tmp_path):
    model = stacked(parts, enter_layer=1, trainable_layers=1)
    torch.nn.init.normal_(model.projection.weight)  # something a fresh model would not have
    model.save(tmp_path / "s")
    assert is_stacked(tmp_path / "s") and not is_stacked(parts[0])
    loaded = StackedModel.load(tmp_path / "s")
    np.testing.assert_allclose(loaded.encode(PT, "pt"), model.encode(PT, "pt"), atol=1e-5)
    np.testing.assert_allclose(loaded.encode(EN, "en"), model.encode(EN, "en"), atol=1e-5)
    # an MT encoder of another width under the same projection
    wider = marian_model.MarianConfig(**{**vars(MT_CONFIG), "dim": 24, "heads": 4})
    shutil.rmtree(tmp_path / "s" / "mt_encoder")
    mt = mt_encoders.load_saved(save_tiny_mt(tmp_path / "wide", wider))
    mt.save(tmp_path / "s" / "mt_encoder")
    with pytest.raises(PolyglotError, match="maps 16 -> 32, but the MT encoder .* is 24 wide.*does not match the projection"):
        StackedModel.load(tmp_path / "s")


def test_training_reduces_the_loss_and_leaves_the_backbone_alone(parts, tmp_path):
    model = stacked(parts, enter_layer=0)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    pairs = ParallelSet("train", EN * 8, PT * 8)
    student = model.pooled(PT)
    teacher = stack_train.teacher_embeddings(model, EN, "", 32)
    loss_random = torch.nn.functional.mse_loss(student, teacher).item()
    r2 = stack_train.least_squares_init(model, PT * 4, EN * 4, ("pt", "en"), 32)
    assert r2 > 0.5
    assert torch.nn.functional.mse_loss(model.pooled(PT), teacher).item() < loss_random
    model = stacked(parts, enter_layer=0)  # and by training alone, from a random projection
    cfg = StackConfig(steps=40, batch_size=8, lr=3e-3, warmup_steps=2, eval_every=20, max_minutes=0, init="random")
    metrics = stack_train.train(model, pairs, cfg, {"source": "en", "target": "pt"},
                                curve=ParallelSet("dev", EN, PT), out=tmp_path)
    assert metrics["steps"] == 40 and metrics["stopped_by"] == "steps"
    assert [p["step"] for p in metrics["curve"]] == [0, 20, 40]
    assert len((tmp_path / stack_train.CURVE_FILE).read_text().splitlines()) == 3
    loss_after = torch.nn.functional.mse_loss(model.pooled(PT), teacher).item()
    assert loss_after < loss_random / 2
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_time_budget_stops_training(parts):
    model = stacked(parts)
    cfg = StackConfig(steps=10_000, batch_size=4, max_minutes=0.02, eval_every=0)
    metrics = stack_train.train(model, ParallelSet("t", EN, PT), cfg, {"source": "en", "target": "pt"})
    assert metrics["stopped_by"] == "time" and 0 < metrics["steps"] < 10_000
    assert metrics["stopped_early"] == f"trained {metrics['steps']} of 10000 steps (time budget)"


def test_interrupted_stack_training_resumes_to_the_uninterrupted_state(parts, tmp_path, monkeypatch):
    """On the shared engine: checkpoints on interruption, resume with the same batches and learning
    rates, the same trained parameters as a run that was never stopped; logs and curves written."""
    from polyglot_kd.engine import trainer as training

    pairs = ParallelSet("train", EN * 4, PT * 4)
    cfg = StackConfig(steps=8, batch_size=4, lr=3e-3, warmup_steps=2, eval_every=4, checkpoint_every=3,
                      max_minutes=0, init_items=8, trainable_layers=1)
    langs = {"source": "en", "target": "pt"}
    curve = ParallelSet("dev", EN, PT)

    def trained(model):
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    whole = stacked(parts, trainable_layers=1)
    metrics = stack_train.train(whole, pairs, cfg, langs, curve=curve, out=tmp_path / "a")
    assert metrics["steps"] == 8 and [p["step"] for p in metrics["curve"]] == [0, 4, 8]
    assert {training.METRICS_FILE, training.CURVE_FILE, stack_train.CURVE_FILE} <= {p.name for p in (tmp_path / "a").iterdir()}
    rows = training.read_metrics(tmp_path / "a" / training.METRICS_FILE)
    assert rows[-1]["step"] == 8 and "eval/retrieval" in rows[-1]

    calls = {"n": 0}
    real = stack_train.teacher_embeddings

    def interrupt_at_step_5(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # the sixth training step
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(stack_train, "teacher_embeddings", interrupt_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        stack_train.train(stacked(parts, trainable_layers=1), pairs, cfg, langs, curve=curve, out=tmp_path / "b")
    assert (tmp_path / "b" / "checkpoints" / "step-0000005").is_dir()
    monkeypatch.setattr(stack_train, "teacher_embeddings", real)
    resumed = stacked(parts, trainable_layers=1)
    with torch.no_grad():  # a fresh model whose trained parts differ: the checkpoint must overwrite them
        resumed.projection.weight.add_(1.0)
    again = stack_train.train(resumed, pairs, cfg, langs, curve=curve, out=tmp_path / "b")
    assert again["steps"] == 8 and [p["step"] for p in again["curve"]] == [0, 4, 8]
    a, b = trained(whole), trained(resumed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name
    with pytest.raises(PolyglotError, match="different configuration"):  # another config does not resume it
        stack_train.train(stacked(parts, trainable_layers=1), pairs, StackConfig(**(vars(cfg) | {"steps": 9})),
                          langs, out=tmp_path / "b")


@pytest.fixture
def tiny_build(parts, tmp_path, monkeypatch):
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(bible, "verses", lambda code, split: (EN[:-2] if code == "4" else PT[:-2]) * 10)
    monkeypatch.setattr(bible, "parallel", lambda s, t, split, max_items=None, seed=0: ParallelSet(
        f"bible-{split}", *((EN[-2:], PT[-2:]) if split == "test" else (EN[:-2], PT[:-2]))))  # test: held out
    monkeypatch.setattr(bible, "translations", lambda: frozenset({"4", "a"}))
    monkeypatch.setattr(udhr, "declaration_codes", lambda: ["eng", "por_BR"])
    monkeypatch.setattr(udhr, "parallel", lambda s, t: ParallelSet("udhr", ["a cat sleeps"], ["um gato dorme"]))
    monkeypatch.setattr(wordlists, "load", lambda name, lang, size: [(w, 1 / len(CORPUS)) for w in CORPUS[:6]])

    def config(**stack):
        return parse_config({"code": "pt", "name": "Portuguese", "teacher": str(parts[0]),
                             "corpus": {"bible": "a", "udhr": "por_BR"}, "trim": {"top_n": 40},
                             "stack": {"mt_encoder": str(parts[1]), "steps": 6, "batch_size": 4, "eval_every": 3,
                                       "max_minutes": 0} | stack})
    return config, tmp_path / "builds"


def test_build_with_stack_stage(tiny_build):
    config, workdir = tiny_build
    manifests = build.run_build(config(), workdir, ["trim", "stack", "eval"])
    metrics = manifests["stack"]["metrics"]
    assert metrics["steps"] == 6 and metrics["backbone"].endswith("pt/trim/model")
    files = sorted(str(p.relative_to(workdir / "pt" / "stack")) for p in (workdir / "pt" / "stack").rglob("*") if p.is_file())
    assert {"manifest.json", "curve.jsonl", "model/stacking.json", "model/stacked.safetensors",
            "model/backbone/model.safetensors", "model/mt_encoder/model.safetensors",
            "model/mt_encoder/spm.model"} <= set(files)
    report = json.loads((workdir / "pt" / "eval" / "report.json").read_text())
    assert set(report["models"]) == {"teacher", "trim", "stack"}
    stack = report["models"]["stack"]
    assert stack["params"] == metrics["params_stacked_route"] and set(stack["retrieval"]) == {"bible-test", "udhr"}
    # timed beside the teacher through the route that reads the target language
    assert stack["speedup"] > 0 and stack["speed_route"].startswith("target-language route")
    assert set(report["speed"]["speedup"]) == {"teacher", "trim", "stack"} and "speed_route" not in report["models"]["trim"]
    # rerun: nothing changed, nothing retrained
    again = build.run_build(config(), workdir, ["trim", "stack", "eval"])
    assert again["stack"]["finished"] == manifests["stack"]["finished"]


def test_stack_config_errors_come_before_any_work(tiny_build, parts):
    config, workdir = tiny_build
    with pytest.raises(ConfigError) as err:
        config(student_side="left", teacher_sides=[], enter_layer=-1)
    text = str(err.value)
    assert "stack.student_side: 'left'" in text and "stack.teacher_sides" in text and "stack.enter_layer: -1" in text
    with pytest.raises(ConfigError, match="stack.mt_encoder: the MT encoder embedded:en-pt reads 'en', not 'pt'"):
        build.run_build(config(mt_encoder="embedded:en-pt"), workdir, ["stack"])
    with pytest.raises(ConfigError, match="stack.backbone: 'eval' comes after the stack stage"):
        build.run_build(config(backbone="eval"), workdir, ["stack"])
    with pytest.raises(PolyglotError, match="the trim stage of pt has not finished"):
        build.run_build(config(backbone="trim"), workdir, ["stack"])
    assert not (workdir / "pt" / "stack").exists()


def test_retrieval_scores_use_both_routes(parts):
    model = stacked(parts)
    scores = retrieval_scores(model, ParallelSet("x", EN, PT), "en", "pt")
    assert set(scores) == {"src2tgt", "tgt2src", "mean", "n"} and scores["n"] == len(EN)


@pytest.mark.real
def test_real_stack_reads_portuguese_after_the_closed_form_init():
    """The embedded pt->en encoder under the real teacher: the least-squares projection alone already
    retrieves far above chance (1 in 100) on held-out Acts verses, before any training step."""
    from polyglot_kd.sources.teacher import resolve_teacher

    backbone, tokenizer = load_model_and_tokenizer(resolve_teacher("e5-small"))
    model = StackedModel(backbone, tokenizer, mt_encoders.load_mt_encoder("embedded", "pt"), "pt")
    train = bible.parallel("4", "a", "train", 400)
    r2 = stack_train.least_squares_init(model, train.target, train.source, ("pt", "en"), 128)
    scores = retrieval_scores(model, bible.parallel("4", "a", "dev", 100, seed=1), "en", "pt")
    assert r2 > 0.3 and scores["mean"] > 0.1, (r2, scores)


def test_a_stacked_frontier_point_is_measured_on_the_mt_route(tiny_build):
    from polyglot_kd.pipeline import frontier

    config, workdir = tiny_build
    cfg = config()
    cfg.distill.batch_size, cfg.distill.warmup_steps = 2, 1
    table = frontier.run_frontier(cfg, workdir, "1,1+mt", steps=2, speed_sentences=2)
    plain, stacked = table["points"]
    assert plain["point"] == "L1-Wfull" and stacked["point"] == "L1-Wfull-mt" and stacked["stacked"]
    point_dir = workdir / "pt" / "frontier" / "L1-Wfull-mt"
    assert is_stacked(point_dir / "stack" / "model")
    assert (point_dir / "stack" / "manifest.json").is_file() and stacked["speedup"] > 0
    # the route carries the MT encoder: more parameters than the student alone
    assert stacked["params"] > plain["params"]
    assert frontier.point_of(stacked) == frontier.Point(1, 0, 0, True)


def test_stacked_frontier_points_need_an_mt_encoder_that_reads_the_language(tiny_build):
    from polyglot_kd.pipeline import frontier

    config, workdir = tiny_build
    cfg = config(mt_encoder="embedded:en-pt")  # reads English, not Portuguese
    with pytest.raises(PolyglotError, match="frontier points with \\+mt: the MT encoder embedded:en-pt reads 'en'"):
        frontier.run_frontier(cfg, workdir, "1+mt", steps=2)
    assert not (workdir / "pt" / "trim").exists()  # refused before any work


def test_a_trained_task_on_a_stacked_model_is_refused_before_any_training(tiny_build, tmp_path):
    from polyglot_kd.pipeline.task_suite import Target, run_eval
    from polyglot_kd.tasks import get_task

    config, workdir = tiny_build
    cfg = config()
    build.run_build(cfg, workdir, ["trim", "stack"])
    models = {"trim": workdir / "pt" / "trim" / "model", "stack": workdir / "pt" / "stack" / "model"}
    target = Target(cfg, cfg.finetune, models, tmp_path / "results", None)
    with pytest.raises(PolyglotError, match=r"adapters fine-tune\(s\) an encoder's own layers, and stack is a stacked "
                                            r"model .* leave it out \(--models trim\)"):
        run_eval(target, [get_task("pos")], "adapters")
    assert not (tmp_path / "results").exists()
