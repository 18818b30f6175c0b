"""Report file names are named once, in reports/files.py, and the writers use them."""

from __future__ import annotations

from polyglot_kd.pipeline import build
from polyglot_kd.pipeline.stages import STAGES, evaluate
from polyglot_kd.reports import files


def test_names_agree_with_the_pipeline():
    assert files.MANIFEST == build.MANIFEST  # reports read manifests without importing the pipeline
    assert files.EVAL_DIR in STAGES and files.RELEASE_DIR in STAGES
    assert evaluate.REPORT_JSON is files.REPORT_JSON and evaluate.TASK_RESULTS_DIR is files.TASK_RESULTS_DIR


def test_eval_report_written_under_those_names(tiny_world):
    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim", "eval"])
    out = workdir / "pt" / files.EVAL_DIR
    assert (out / files.REPORT_JSON).is_file() and (out / files.MANIFEST).is_file()
    assert (out / files.REPORT_MD).read_text().startswith("Retrieval accuracy (%), en<->pt")
