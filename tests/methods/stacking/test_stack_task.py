"""Stacking stage 2 (task distillation towards the task-tuned teacher's pooled outputs) on tiny models."""

from __future__ import annotations

import pytest
import torch

from polyglot_kd.methods.stacking import task_distill as stack_task
from polyglot_kd.config import FinetuneConfig
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.pipeline import task_runs as runner
from polyglot_kd.core.loading import load_tokenizer
from polyglot_kd.tasks import get_task
from tests.marian_tiny import stacked

FAST = FinetuneConfig(seeds=[1], train_examples=0, dense_epochs=1, sparse_epochs=2, batch_size=4, learning_rate=1e-3,
                      max_length=32, cpu_bf16=False)


def test_stage2_matches_the_task_teachers_pooled_outputs_and_reuses_its_head(parts, xnli_dir, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path / "cache"))
    task = get_task("xnli")
    splits = runner.load_splits(task, ["de"], FAST, str(xnli_dir))
    teacher, sft = runner.task_teacher(task, parts[0], FAST, splits, 1, torch.device("cpu"), with_sft=True)
    tokenizer = load_tokenizer(parts[0])
    examples = splits.train.examples
    batch = tokenizer([e["text"] for e in examples], [e["text_pair"] for e in examples], padding=True,
                      return_tensors="pt")
    with torch.no_grad():  # the head reused on pooled vectors is the teacher's own classifier, pooler included
        assert torch.allclose(stack_task.head_logits(teacher, stack_task.head_input(teacher, batch)),
                              teacher(**batch).logits, atol=1e-5)

    model = stacked(parts)
    with pytest.raises(PolyglotError, match="does not read 'en'.*translate"):
        stack_task.train(model, teacher, tokenizer, None, examples, tmp_path / "x", stack_task.Stage2Settings(steps=1))

    targets = stack_task.teacher_targets(teacher, tokenizer, examples, 32)
    texts = [stack_task.example_text(e) for e in examples]

    def distance():
        with torch.no_grad():
            return torch.nn.functional.mse_loss(model.pooled(texts, "pt", 32, normalize=False), targets).item()

    before = distance()
    settings = stack_task.Stage2Settings(steps=60, batch_size=4, lr=3e-3, warmup_steps=2, checkpoint_every=30)
    metrics = stack_task.train(model, teacher, tokenizer, sft, examples, tmp_path / "stage2", settings,
                               translate=lambda t: list(t))  # the tiny MT encoder reads any text as 'pt'
    assert metrics["steps"] == 60 and metrics["reads"] == "pt" and metrics["examples"] == len(examples)
    assert distance() < before / 3
    body = dict(teacher.base_model.named_parameters())  # the backbone above the MT encoder is the teacher's
    for name, p in model.backbone.named_parameters():
        assert torch.equal(p, body[name]), name
    predicted = stack_task.predict(model, teacher, splits.tests["de"].examples, "pt", task.labels, 32)
    assert len(predicted) == len(splits.tests["de"]) and set(predicted) <= set(task.labels)
    assert (tmp_path / "stage2" / "metrics.jsonl").is_file()
