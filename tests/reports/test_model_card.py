"""The model card from its template and a ReleaseCard; the citations each method declares."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest
from huggingface_hub import ModelCard

from polyglot_kd.core.paths import repo_root
from polyglot_kd.methods import bistil, embed_init, sft, stacking, trim
from polyglot_kd.pipeline import release as pipeline_release
from polyglot_kd.reports.model_card import TEMPLATE, ReleaseCard, Score, Speed, StageInfo, card_scores, render_card

SECTIONS = ["## Usage", "## Evaluation", "## Size and speed", "## How it was made", "## Files", "## Software",
            "## Citation"]


def card(**changes) -> ReleaseCard:
    fields = dict(
        name="e5-small-pt-trim", language="pt", language_name="Portuguese", source="en", license="mit",
        teacher="e5-small", base_model="intfloat/multilingual-e5-small", released_stage="trim",
        params=50_000_000, teacher_params=117_000_000, vocab_size=19_500, teacher_vocab_size=250_002,
        weights_bytes=200 * 2**20, max_seq_length=128, prefix="",
        scores=[Score("bible-test", 0.9, 0.91, 0.89, 0.92, 1000), Score("udhr", 0.8, 0.81, 0.79, None)],
        comparison={"teacher": {"params": 117_000_000, "scores": {"bible-test": 0.92, "udhr": 0.85}},
                    "trim": {"params": 50_000_000, "scores": {"bible-test": 0.9, "udhr": 0.8}}},
        stages=[StageInfo("trim", {"top_n": 40}, {"vocab": 19500}, 12.3), StageInfo("eval", {}, {}, 3.0)],
        data=["Bible verses", "UDHR"], versions={"python": "3.11", "torch": "2.4"},
        made_by=["trim"], tags=["vocabulary-trimming"], citations=["@misc{a}", "@misc{b}"])
    return ReleaseCard(**fields | changes)


def test_the_template_ships_as_package_data():
    assert resources.files("polyglot_kd.reports").joinpath(TEMPLATE).is_file()
    pyproject = tomllib.loads((repo_root() / "pyproject.toml").read_text())
    assert TEMPLATE in pyproject["tool"]["setuptools"]["package-data"]["polyglot_kd.reports"]


def test_card_renders_header_sections_and_figures(tmp_path):
    text = render_card(card(speed=Speed(64, 32, 2, 128, 100.0, 50.0, 2)))
    assert text.startswith("---\n") and text.endswith("```\n") and "{{" not in text and "{%" not in text
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    (tmp_path / "README.md").write_text(text)
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.base_model == "intfloat/multilingual-e5-small" and "vocabulary-trimming" in loaded.data.tags
    assert card_scores(tmp_path / "README.md") == {"bible-test": 90.0, "udhr": 80.0}
    assert "(stages: trim). It keeps 50.00M of the teacher's 117.00M parameters (0.427x, 2.3x smaller)" in text
    assert "| **e5-small-pt-trim** (trim) | 50.00M | 90.0 | 80.0 |" in text
    assert "| teacher (intfloat/multilingual-e5-small) | 117.00M | 92.0 | 85.0 |" in text
    assert "| bible-test | 1000 | 90.0 | 92.0 | -2.0 | 91.0 | 89.0 |" in text
    assert "| udhr |  | 80.0 |  |  | 81.0 | 79.0 |" in text  # no teacher score: blank, not 'None'
    assert "- encoding speed: 100.0 sentences/s vs the teacher's 50.0 (2.00x)" in text
    assert "- weights: 200.0 MiB (safetensors)" in text
    assert '- **trim** (12.3 s): settings `{"top_n": 40}`; results `{"vocab": 19500}`\n- **eval** (3.0 s): settings `{}`\n' in text
    assert "python 3.11, torch 2.4\n\n## Citation" in text
    assert "```bibtex\n@misc{a}\n```\n\n```bibtex\n@misc{b}\n```\n" in text
    assert "add_pooling_layer=False)" in text and "no prefix." in text and "## Extra artifacts" not in text


def test_card_variants_prefix_artifacts_no_speed_no_base_model():
    text = render_card(card(prefix="query: ", artifacts=["artifacts/trim/sft-pt"], pooling_switch=False,
                            base_model=None, teacher="/x/teacher", language_name="", citations=[]))
    assert "made from `/x/teacher` by polyglot-kd" in text and "A compact sentence encoder for pt (pt)" in text
    assert "prefix 'query: '." in text and 'tokenizer(["query: " + "Hello, world!"]' in text
    assert 'AutoModel.from_pretrained("e5-small-pt-trim")\n' in text
    assert "- encoding speed: not measured\n" in text
    assert "## Extra artifacts\n\n- `artifacts/trim/sft-pt/`\n\n## Files" in text
    assert "| teacher (/x/teacher) |" in text
    assert text.endswith("Methods used to make this model:\n")


def test_every_method_declares_its_citation():
    for package in (trim, embed_init, bistil, stacking, sft):
        assert package.CITATION.startswith("@") and package.CITATION.rstrip().endswith("}"), package.__name__


def test_card_cites_the_methods_the_model_went_through():
    cited = pipeline_release.card_citations("intfloat/multilingual-e5-small", ["trim", "distill", "eval"])
    assert cited == [pipeline_release.E5_CITATION, trim.CITATION, bistil.CITATION, pipeline_release.EVAL_CITATION]
    assert pipeline_release.card_citations(None, ["embed-init", "stack"]) == [embed_init.CITATION, stacking.CITATION]
    assert pipeline_release.card_tags(["trim", "eval"]) == ["vocabulary-trimming"]


@pytest.mark.parametrize("stage", sorted(pipeline_release.STAGE_METHODS))
def test_cited_stages_are_model_stages(stage):
    from polyglot_kd.pipeline.stages import model_stages

    assert stage in model_stages()
