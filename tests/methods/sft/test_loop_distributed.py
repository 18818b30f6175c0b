"""The task loop on 2 CPU processes (`accelerate launch`) against 1 process: the same parameters and
the same dev history (the main process evaluates and sends its score), with batches that split
unevenly (different labelled-token counts per process, and a 1-row batch that leaves a process none)."""

from __future__ import annotations

import json

import pytest
import torch

from polyglot_kd.engine.batching import collate
from polyglot_kd.engine.sharding import Share
from polyglot_kd.methods.sft.loop import labelled_positions, process_rows, run
from tests.distributed import launch
from tests.distributed_child import LOOP_BATCH, LOOP_SENTENCES, loop_phase, tagging_data, tiny_tagger

TOLERANCE = 1e-5  # float32 sums in another order, then gloo's average, over 8 AdamW steps


@pytest.mark.distributed
def test_the_task_loop_on_two_processes_equals_one(tmp_path, monkeypatch):
    assert LOOP_SENTENCES % LOOP_BATCH == 1  # the last batch of each epoch has one row
    # float32, as in the fresh children (a task run earlier in the session may have turned bf16 on)
    monkeypatch.setattr("polyglot_kd.methods.sft.loop._CPU_BF16", False)
    launch("loop", str(tmp_path))
    saved = json.loads((tmp_path / "loop.json").read_text())
    assert saved["num_processes"] == 2
    model = tiny_tagger(0)
    history = run(model, loop_phase(), torch.device("cpu"))
    other = torch.load(tmp_path / "loop.pt")
    assert max(float((p - other[n]).abs().max()) for n, p in model.state_dict().items()) < TOLERANCE
    assert [h["step"] for h in saved["history"]] == [h["step"] for h in history] == [2, 4, 6, 8]
    for mine, theirs in zip(history, saved["history"]):
        assert theirs["dev"] == pytest.approx(mine["dev"], abs=TOLERANCE)
        assert theirs["loss"] == pytest.approx(mine["loss"], rel=1e-5)
    assert history[-1]["loss"] < history[0]["loss"]  # it trained


def test_a_process_takes_contiguous_rows_and_counts_labelled_tokens():
    from types import SimpleNamespace

    batch = collate(tagging_data()[:5], 0, ("input_ids", "attention_mask", "labels"))
    shares = [Share(SimpleNamespace(process_index=r, num_processes=2)) for r in (0, 1)]
    parts = [process_rows(batch, s) for s in shares]
    assert [len(p["labels"]) for p, _ in parts] == [3, 2] and not any(empty for _, empty in parts)
    assert torch.equal(torch.cat([p["input_ids"] for p, _ in parts]), batch["input_ids"])
    assert sum(labelled_positions(p) for p, _ in parts) == labelled_positions(batch) == int((batch["labels"] != -100).sum())
    one_row = {k: v[:1] for k, v in batch.items()}
    assert process_rows(one_row, shares[1])[1] is True  # no rows: it runs one with weight 0
    assert labelled_positions({"input_ids": torch.zeros(3, 4), "labels": torch.tensor([0, 1, 2])}) == 3  # per-row labels
