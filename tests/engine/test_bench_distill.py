"""scripts/bench_distill.py on a tiny config: the engine's step runs, and its model-FLOPs formula (the MFU
numerator) agrees with torch's count of one real step."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_distill.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_distill", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_model_flops_match_torchs_count_and_mfu_uses_the_peak(bench):
    r = bench.run("tiny", vocab_size=500, student_layers=2, batch_size=4, seq_len=16, steps=2, warmup=1,
                  peak_tflops=1.0, attention="eager")  # eager: every attention product is a counted matmul
    assert r["student_layers"] == 2 and r["teacher_layers"] == 4
    assert r["counted_step_tflop"] == pytest.approx(r["step_tflop"], rel=1e-6)
    assert r["tokens_per_s"] == pytest.approx(r["steps_per_s"] * 4 * 16)
    assert r["mfu"] == pytest.approx(r["achieved_tflops"] / 1.0)
    assert "MFU" in bench.report(r)


def test_student_deeper_than_teacher_is_refused(bench):
    from polyglot_kd.core.errors import PolyglotError

    with pytest.raises(PolyglotError, match="cannot be cut from a teacher of 4"):
        bench.run("tiny", vocab_size=500, student_layers=6, batch_size=2, seq_len=8, steps=1, warmup=0)
