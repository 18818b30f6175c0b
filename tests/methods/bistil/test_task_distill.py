"""Phase 2 (task distillation, finetune method lt-sft-kd) on tiny models: the loss, the eval suite, the CLI."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from polyglot_kd.pipeline import build
from polyglot_kd.cli import main
from polyglot_kd.config import DistillConfig, load_language
from polyglot_kd.methods.bistil import task_kd as kd
from polyglot_kd.pipeline import task_runs as runner


def _tagger(layers=2, seed=0):
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=1, num_labels=5,
                        attn_implementation="eager", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertForTokenClassification(config).eval()


def _batch():
    ids = torch.tensor([[2, 7, 9, 11, 3, 1], [2, 5, 6, 3, 1, 1]])
    labels = torch.tensor([[-100, 0, 3, 4, -100, -100], [-100, 1, 2, -100, -100, -100]])
    return {"input_ids": ids, "attention_mask": (ids != 1).long(), "labels": labels}


def _student_cut_from(teacher, layers):
    student = copy.deepcopy(teacher)
    student.bert.encoder.layer = torch.nn.ModuleList([student.bert.encoder.layer[i] for i in layers])
    student.config.num_hidden_layers = len(layers)
    return student


def test_a_student_equal_to_its_teacher_is_at_the_minimum():
    """Same weights, same layers: hidden and attention losses are 0 and the soft cross-entropy is at its
    minimum, so no gradient reaches the student; a perturbed student gets a larger loss and gradients."""
    teacher = _tagger()
    options = DistillConfig(task_hard_weight=0.0)  # distillation alone: gold labels would pull elsewhere
    student = _student_cut_from(teacher, [0, 1])
    loss = kd.make_loss(teacher, student, [0, 1], options)(student, _batch())
    loss.backward()
    with torch.no_grad():
        t = teacher(**{k: v for k, v in _batch().items() if k != "labels"})
    keep = _batch()["labels"] != -100
    p = torch.softmax(t.logits[keep] / 2.0, -1)
    entropy = float(-(p * p.log()).sum(-1).mean() * 4.0)  # T^2 scaled, as soft_ce
    assert float(loss.detach()) == pytest.approx(entropy, rel=1e-5)
    assert max(float(q.grad.abs().max()) for q in student.parameters() if q.grad is not None) < 1e-5

    perturbed = _student_cut_from(teacher, [0, 1])
    with torch.no_grad():
        perturbed.bert.encoder.layer[1].output.dense.weight.add_(0.3 * torch.randn(32, 64))
    worse = kd.make_loss(teacher, perturbed, [0, 1], options)(perturbed, _batch())
    worse.backward()
    assert float(worse.detach()) > float(loss.detach()) + 1e-3
    assert float(perturbed.bert.encoder.layer[1].output.dense.weight.grad.abs().max()) > 1e-4  # 10x the equal case


def test_the_layer_map_follows_how_the_student_was_cut():
    """A one-layer student cut from teacher layer 1 matches that layer's states and attention maps;
    mapped to layer 0 instead, the hidden-state loss sees the difference."""
    teacher = _tagger()
    student = _student_cut_from(teacher, [1])
    hidden_only = DistillConfig(task_soft_weight=0.0, task_hidden_weight=1.0, task_attention_weight=0.0)
    attention_only = DistillConfig(task_soft_weight=0.0, task_hidden_weight=0.0, task_attention_weight=1.0)
    # the student's layer-1 input is the embedding output, the teacher's layer 1 reads layer 0's output:
    # neither state nor attention matches exactly, but mapping to layer 1 matches what the layer computes
    right = float(kd.make_loss(teacher, student, [1], hidden_only)(student, _batch()).detach())
    wrong = float(kd.make_loss(teacher, student, [0], hidden_only)(student, _batch()).detach())
    assert right != wrong and right > 0
    assert float(kd.make_loss(teacher, student, [1], attention_only)(student, _batch()).detach()) > 0


def test_a_student_with_another_vocabulary_is_refused():
    teacher = _tagger()
    student = _tagger()
    student.config.vocab_size = 51
    with pytest.raises(Exception, match="same tokenizer"):
        kd.make_loss(teacher, student, [0, 1], DistillConfig())


@pytest.fixture
def tiny_distilled(tiny_build):  # noqa: F811
    langs = tiny_build.parent / "languages"
    with open(langs / "pt.toml", "a") as f:
        f.write("[distill]\nstudent_layers = 1\nsteps = 2\nbatch_size = 2\nwarmup_steps = 1\n"
                "checkpoint_every = 2\neval_every = 0\n"
                "[finetune]\nseeds = [1]\ntrain_examples = 0\nbatch_size = 4\nepochs = 1\nlearning_rate = 0.001\n"
                "max_length = 32\n")
    build.run_build(load_language("pt"), tiny_build, ["distill", "eval"], force={"eval"})
    return tiny_build


def test_eval_puts_the_phase2_student_beside_the_plain_one(tiny_distilled, tiny_pos, capsys, monkeypatch):  # noqa: F811
    workdir = tiny_distilled
    source = runner.distilled_from(workdir / "pt/distill/model")  # the pipeline reads the manifest
    assert source.layers == [0] and source.teacher_dir == workdir / "pt/trim/model"
    assert runner.distilled_from(workdir / "pt/trim/model") is None
    code = main(["eval", "pt", "--tasks", "pos", "--method", "lt-sft-kd,lt-sft", "--models", "trim,distill",
                 "--workdir", str(workdir)])
    assert code == 0
    out = capsys.readouterr().out
    assert "pos, en->tr, lt-sft-kd (%)" in out and "pos, en->id, lt-sft (%)" in out
    files = sorted(p.relative_to(workdir / "pt/tasks").as_posix() for p in (workdir / "pt/tasks").glob("*/*.json"))
    assert files == ["distill/pos.id.lt-sft-kd.json", "distill/pos.id.lt-sft.json", "distill/pos.tr.lt-sft-kd.json",
                     "distill/pos.tr.lt-sft.json", "trim/pos.id.lt-sft.json", "trim/pos.tr.lt-sft.json"]
    record = json.loads((workdir / "pt/tasks/distill/pos.tr.lt-sft-kd.json").read_text())
    assert record["method"] == "lt-sft-kd" and record["seeds"] == [1] and 0 <= record["mean"] <= 1
    assert (workdir / "pt/tasks/distill/artifacts/pos.lt-sft-kd/seed1/sft.safetensors").is_file()
    report = json.loads((workdir / "pt/eval/report.json").read_text())
    assert {"lt-sft", "lt-sft-kd"} == set(report["models"]["distill"]["pos"])
    assert set(report["models"]["trim"]["pos"]) == {"lt-sft"}

    # the task-tuned teacher was the trimmed model's own lt-sft run: one training, shared through the cache
    def no_training(*args, **kwargs):
        raise AssertionError("retrained")

    monkeypatch.setattr(runner, "run_seed", no_training)
    assert main(["eval", "pt", "--tasks", "pos", "--method", "lt-sft", "--models", "trim", "--workdir", str(workdir)]) == 0
    assert main(["distill", "pt", "--task", "pos", "--workdir", str(workdir)]) == 0  # the same phase-2 run: cached
    with pytest.raises(AssertionError, match="retrained"):  # another temperature is another run
        main(["distill", "pt", "--task", "pos", "--temperature", "4", "--workdir", str(workdir)])


def test_distill_task_cli_runs_phase2(tiny_distilled, tiny_pos, capsys, monkeypatch):  # noqa: F811
    calls = {"make": 0, "steps": 0}
    real = kd.make_loss

    def counting(teacher, student, layers, options):
        calls["make"] += 1
        assert options.task_temperature == 3 and layers == [0] and teacher is not student
        loss = real(teacher, student, layers, options)

        def counted(model, batch):
            calls["steps"] += 1
            return loss(model, batch)

        return counted

    monkeypatch.setattr(kd, "make_loss", counting)
    code = main(["distill", "pt", "--task", "pos", "--temperature", "3", "--seeds", "1", "--compare",
                 "--workdir", str(tiny_distilled)])
    assert code == 0
    out = capsys.readouterr().out
    assert "pos, en->tr, lt-sft-kd (%)" in out and "pos, en->tr, lt-sft (%)" in out
    assert sorted(p.name for p in (tiny_distilled / "pt/tasks/distill").glob("*.json")) == [
        "pos.id.lt-sft-kd.json", "pos.id.lt-sft.json", "pos.tr.lt-sft-kd.json", "pos.tr.lt-sft.json"]
    assert calls["make"] == 1 and calls["steps"] > 0  # the phase-2 run trained on the distillation loss, lt-sft did not


def test_phase2_bad_input(tiny_build, tiny_pos, capsys):  # noqa: F811
    assert main(["eval", "pt", "--tasks", "pos", "--method", "lt-sft-kd", "--workdir", str(tiny_build)]) == 2
    assert "none of teacher, trim is one" in capsys.readouterr().err
    assert main(["distill", "pt", "--task", "pos", "--workdir", str(tiny_build)]) == 2
    assert "phase 2 needs the distilled student" in capsys.readouterr().err
    assert main(["eval", "pt", "--tasks", "pos", "--method", "lt-sft,lora", "--workdir", str(tiny_build)]) == 2
    assert "unknown training method 'lora'" in capsys.readouterr().err
