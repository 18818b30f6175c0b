"""`polyglot-kd eval` end to end on tiny models: result files, report extension, table, bad input."""

from __future__ import annotations

import json

import pytest

from polyglot_kd.pipeline import build
from polyglot_kd.cli import main
from polyglot_kd.config import load_language
from tests.tiny import save_tiny_model

FAST = ["--seeds", "1,2", "--set", "train_examples=0", "--set", "batch_size=4", "--set", "epochs=1",
        "--set", "learning_rate=0.001", "--set", "max_length=32"]


def test_eval_a_model_directory_on_pos(tmp_path, tiny_pos, monkeypatch, capsys):
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path / "cache"))
    model = save_tiny_model(tmp_path / "mymodel")
    code = main(["eval", str(model), "--tasks", "pos", "--method", "lt-sft", "--no-teacher",
                 "--workdir", str(tmp_path / "builds"), *FAST])
    assert code == 0
    out = capsys.readouterr().out
    assert "pos, en->tr, lt-sft (%)" in out and "pos, en->id, lt-sft (%)" in out and "± " in out
    record = json.loads((tmp_path / "builds/models/tasks/mymodel/pos.tr.lt-sft.json").read_text())
    assert record["seeds"] == [1, 2] and len(record["values"]) == 2 and record["metric"] == "accuracy"
    assert record["std"] >= 0 and 0 <= record["mean"] <= 1 and record["dev"]["mean"] > 0
    assert record["config"]["method"] == "lt-sft" and record["config"]["density"] == 0.08
    assert {"torch", "transformers", "git"} <= record["versions"].keys()
    assert 0 < record["parameters"]["stored_share"] < record["parameters"]["trained_share"] <= 1
    assert record["data"]["sources"]["test"] == "turkish-treebanks==1.0.0"
    assert (tmp_path / "builds/models/tasks/mymodel/artifacts/pos.lt-sft/seed1/sft.safetensors").is_file()
    # a rerun takes every seed from the cache: same numbers, no training
    main(["eval", str(model), "--tasks", "pos", "--method", "lt-sft", "--no-teacher",
          "--workdir", str(tmp_path / "builds"), *FAST])
    again = json.loads((tmp_path / "builds/models/tasks/mymodel/pos.tr.lt-sft.json").read_text())
    assert again["values"] == record["values"]


def test_eval_a_build_extends_its_report(tiny_build, tiny_pos, capsys):
    report_path = tiny_build / "pt/eval/report.json"
    report = json.loads(report_path.read_text())
    assert {"retrieval", "mining"} <= report["models"]["trim"].keys()  # the eval stage runs both now
    assert report["models"]["trim"]["mining"]["bible-test"]["n_gold"] == 3
    code = main(["eval", "pt", "--tasks", "retrieval,pos", "--method", "adapters", "--workdir", str(tiny_build),
                 *FAST, "--set", "adapter_learning_rate=0.01"])
    assert code == 0
    out = capsys.readouterr().out
    assert "retrieval, en<->pt (%)" in out and "pos, en->id, adapters (%)" in out
    files = sorted(p.relative_to(tiny_build / "pt/tasks").as_posix() for p in (tiny_build / "pt/tasks").glob("*/*.json"))
    assert files == ["teacher/pos.id.adapters.json", "teacher/pos.tr.adapters.json", "teacher/retrieval.pt.frozen.json",
                     "trim/pos.id.adapters.json", "trim/pos.tr.adapters.json", "trim/retrieval.pt.frozen.json"]
    report = json.loads(report_path.read_text())
    trim = report["models"]["trim"]
    assert trim["retrieval"]["bible-test"]["n"] == 3  # still where the leaderboard reads it
    assert set(trim["pos"]["adapters"]) == {"tr", "id"}
    assert {"mean", "std", "dev_mean", "trained_share", "stored_share"} <= trim["pos"]["adapters"]["tr"].keys()
    # a rebuilt eval stage keeps the trained tasks' results beside its own
    build.run_build(load_language("pt"), tiny_build, ["eval"], force={"eval"})
    assert "pos" in json.loads(report_path.read_text())["models"]["trim"]


@pytest.mark.parametrize("argv, message", [
    (["eval", "pt", "--tasks", "pos,nli"], "unknown task(s) 'nli'"),
    (["eval", "pt", "--tasks", "pos", "--languages", "pt"], "task 'pos' does not cover language 'pt'; it covers: tr, id"),
    (["eval", "pt", "--tasks", "pos", "--method", "lora"], "finetune.method: 'lora' is not one of"),
    (["eval", "pt", "--tasks", "pos", "--set", "density=2"], "finetune.density: 2.0 must be in (0, 1]"),
    (["eval", "pt", "--tasks", "pos", "--data", "xnli=/tmp"], "--data names task(s) ['xnli'] that are not being run"),
    (["eval", "builds/zz/trim", "--tasks", "pos"], "is neither a model directory nor a language code"),
    (["eval", "pt", "--tasks", "pos", "--seeds", "1,x"], "--seeds: expected comma-separated integers"),
    (["eval", "pt", "--tasks", "pos", "--seeds", "0,2"], "finetune.seeds: [0] must be >= 1"),
])
def test_bad_eval_input_is_named_before_any_work(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_model_name_lists_the_build_models(tiny_build, capsys):
    assert main(["eval", "pt", "--tasks", "pos", "--models", "teacher,distil", "--workdir", str(tiny_build)]) == 2
    assert "--models: ['distil'] not among this target's models: teacher, trim" in capsys.readouterr().err


def test_retrieval_on_a_model_of_unknown_language_asks_for_it(tmp_path, capsys):
    model = save_tiny_model(tmp_path / "m")
    assert main(["eval", str(model), "--tasks", "retrieval", "--no-teacher", "--workdir", str(tmp_path)]) == 2
    assert "needs the model's language" in capsys.readouterr().err


def test_eval_a_stage_folder_of_a_build(tiny_build, capsys):
    assert main(["eval", str(tiny_build / "pt/trim"), "--tasks", "retrieval,mining", "--no-teacher",
                 "--workdir", str(tiny_build)]) == 0
    assert "mining, en<->pt (%)" in capsys.readouterr().out
    record = json.loads((tiny_build / "pt/tasks/trim/mining.pt.frozen.json").read_text())
    assert record["metric"] == "f1" and {"bible-test", "udhr"} == set(record["datasets"])
    assert record["datasets"]["bible-test"]["threshold"] > 0


def test_a_language_code_is_a_code_even_inside_the_build_folder(tiny_build, monkeypatch):
    from polyglot_kd.pipeline.task_suite import resolve_target

    monkeypatch.chdir(tiny_build)  # holds the folder pt/ (the build), which is no model
    target = resolve_target("pt", tiny_build, None, {})
    assert set(target.models) == {"teacher", "trim"} and target.config.code == "pt"
