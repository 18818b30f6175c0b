"""Release metadata as a dataclass, rendered into a Hugging Face model card (README.md) through the
template `model_card_template.md` (shipped with the package), the way sentence-transformers does it.

The YAML header (language, license, base_model, tags, library_name, model-index) is written by
`huggingface_hub.ModelCardData`, so the hub parses it the way it parses any card; the body holds
the evaluation beside the teacher, sizes, speed, the stages with their settings, data, package
versions and the citations of the methods used. The card knows no build: whoever fills the
`ReleaseCard` (the pipeline's release) chooses the tags and citations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from huggingface_hub import EvalResult, ModelCard, ModelCardData

TEMPLATE = "model_card_template.md"
TASK_TYPE = "bitext-mining"  # the task type MTEB uses for Tatoeba-style retrieval
MEAN_METRIC = "accuracy"  # metric type of the mean of both directions in the model-index
BASE_TAGS = ["sentence-transformers", "sentence-similarity", "feature-extraction", "polyglot-kd"]
SOURCE_NAMES = {"en": "English"}


@dataclass
class Score:
    """One dataset's retrieval accuracy (fractions in 0..1) of the released model, with the teacher's."""

    dataset: str
    """Dataset key of the eval report, e.g. 'bible-test'."""
    mean: float
    src2tgt: float
    tgt2src: float
    teacher: float | None
    """The teacher's mean on the same dataset."""
    n: int | None = None


@dataclass
class Speed:
    """Encoding throughput of the released model and the teacher, measured side by side."""

    sentences: int
    batch_size: int
    threads: int
    max_length: int
    model_per_second: float
    teacher_per_second: float
    rounds: int = 1
    """Each batch's time is its best over this many rounds."""

    @property
    def speedup(self) -> float:
        return self.model_per_second / self.teacher_per_second


@dataclass
class StageInfo:
    """One build stage behind the release: its settings and headline metrics, from its manifest."""

    name: str
    settings: dict
    metrics: dict
    seconds: float | None = None


@dataclass
class ReleaseCard:
    """Everything the model card says; `render_card` turns it into README.md."""

    name: str
    language: str
    language_name: str
    source: str
    license: str
    teacher: str
    """The teacher as the build named it (embedded name, directory or hub id)."""
    base_model: str | None
    """Hub id of the teacher's original checkpoint, where there is one."""
    released_stage: str
    params: int
    teacher_params: int
    vocab_size: int
    teacher_vocab_size: int
    weights_bytes: int
    max_seq_length: int
    prefix: str
    scores: list[Score]
    comparison: dict[str, dict]
    """Every model of the eval report: name -> {"params": int, "scores": {dataset: mean}}."""
    stages: list[StageInfo]
    """Every stage behind the release, evaluation included, for "How it was made"."""
    data: list[str]
    """What the build read, one line each."""
    versions: dict[str, str]
    speed: Speed | None = None
    artifacts: list[str] = field(default_factory=list)
    """Relative folders of extra artifacts (sparse differences, adapters) shipped beside the model."""
    pooling_switch: bool = True
    """Whether the architecture takes add_pooling_layer (then the usage example turns the unused pooler off)."""
    made_by: list[str] = field(default_factory=list)
    """Names of the stages that made the model, in order (the card's first sentence)."""
    tags: list[str] = field(default_factory=list)
    """Hub tags beside BASE_TAGS, e.g. one per method used."""
    citations: list[str] = field(default_factory=list)
    """BibTeX entries of the methods (and base model) used, in order."""
    shape_reason: str = ""
    """Why the student has its shape (the frontier point a budget picked), where a build recorded it."""
    int8: dict | None = None
    """The int8 export: file, bytes, route, scores {dataset: {mean, ...}}, sentences_per_second
    {int8, model, teacher} measured in one run, speedup (over the teacher)."""

    static: dict | None = None
    """The static model: the same keys as `int8`, with `folder` for `file`."""

    def export_rows(self, export: dict | None) -> list[tuple[str, float | None, float | None]]:
        """(dataset, the export's score, this model's score) per retrieval dataset."""
        mine = {s.dataset: s.mean for s in self.scores}
        return [(d, s["mean"], mine.get(d)) for d, s in (export or {}).get("scores", {}).items()]

    def card_data(self) -> ModelCardData:
        """The YAML header, with the model-index holding the released model's scores in %."""
        results = []
        pair = f"{self.source}-{self.language}"
        for s in self.scores:
            common = dict(task_type=TASK_TYPE, task_name="Bitext retrieval (top-1, cosine)", dataset_type=s.dataset,
                          dataset_name=f"{s.dataset} {pair}", dataset_config=pair, dataset_split="test")
            results += [
                EvalResult(**common, metric_type=MEAN_METRIC, metric_value=round(100 * s.mean, 2),
                           metric_name=f"Accuracy, mean of {self.source}->{self.language} and {self.language}->{self.source}"),
                EvalResult(**common, metric_type=f"accuracy_{self.source}_{self.language}", metric_value=round(100 * s.src2tgt, 2),
                           metric_name=f"Accuracy {self.source}->{self.language}"),
                EvalResult(**common, metric_type=f"accuracy_{self.language}_{self.source}", metric_value=round(100 * s.tgt2src, 2),
                           metric_name=f"Accuracy {self.language}->{self.source}"),
            ]
        return ModelCardData(language=[self.language, self.source], license=self.license, base_model=self.base_model,
                             tags=BASE_TAGS + self.tags, library_name="sentence-transformers",
                             pipeline_tag="sentence-similarity", model_name=self.name, eval_results=results or None)

    def comparison_rows(self) -> list[tuple[str, int, list[float | None]]]:
        """(label, params, mean per dataset of `scores`) of every evaluated model; the released one in bold."""
        sets = [s.dataset for s in self.scores]
        rows = []
        for name, row in self.comparison.items():
            label = f"**{self.name}** ({name})" if name == self.released_stage else name
            if name == "teacher":
                label = f"teacher ({self.base_model or self.teacher})"
            rows.append((label, row["params"], [row["scores"].get(d) for d in sets]))
        return rows


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def _diff(x: float, reference: float | None) -> str:
    return "" if reference is None else f"{100 * (x - reference):+.1f}"


@cache
def _template():
    import jinja2

    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)  # a misspelt field fails, not renders blank
    env.filters.update(pct=_pct, diff=_diff, millions=lambda n: f"{n / 1e6:.2f}M", thousands=lambda n: f"{n:,}",
                       json=lambda v: json.dumps(v, ensure_ascii=False))
    return env.from_string(resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8"))


def render_card(card: ReleaseCard) -> str:
    """The model card: YAML metadata header, then the Markdown body, from the template."""
    text = _template().render(card=card, card_data=card.card_data().to_yaml().rstrip(),
                              source_name=SOURCE_NAMES.get(card.source, card.source))
    return text.rstrip() + "\n"


def card_scores(path) -> dict[str, float]:
    """Dataset -> mean retrieval accuracy (%) as a model card's model-index states it."""
    card = ModelCard.load(path)
    return {r.dataset_type: float(r.metric_value) for r in card.data.eval_results or [] if r.metric_type == MEAN_METRIC}
