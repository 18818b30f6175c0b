"""Release metadata as a dataclass, rendered into a Hugging Face model card (README.md).

The YAML header (language, license, base_model, tags, library_name, model-index) is written by
`huggingface_hub.ModelCardData`, so the hub parses it the way it parses any card; the body holds
the evaluation beside the teacher, sizes, speed, the stages with their settings, data, package
versions and the citations of the methods used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from huggingface_hub import EvalResult, ModelCard, ModelCardData

TASK_TYPE = "bitext-mining"  # the task type MTEB uses for Tatoeba-style retrieval
MEAN_METRIC = "accuracy"  # metric type of the mean of both directions in the model-index

# BibTeX of the methods, per build stage (a new stage adds its entry here) and for the pieces every
# release uses. Only the stages a release went through are cited.
CITATIONS = {
    "e5": """@article{wang2024multilingual,
  title={Multilingual E5 Text Embeddings: A Technical Report},
  author={Wang, Liang and Yang, Nan and Huang, Xiaolong and Yang, Linjun and Majumder, Rangan and Wei, Furu},
  journal={arXiv preprint arXiv:2402.05672},
  year={2024}
}""",
    "trim": """@inproceedings{ushio2023efficient,
  title={An Efficient Multilingual Language Model Compression through Vocabulary Trimming},
  author={Ushio, Asahi and Zhou, Yi and Camacho-Collados, Jose},
  booktitle={Findings of the Association for Computational Linguistics: EMNLP 2023},
  year={2023}
}""",
    "distill": """@inproceedings{ansell2023distilling,
  title={Distilling Efficient Language-Specific Models for Cross-Lingual Transfer},
  author={Ansell, Alan and Ponti, Edoardo Maria and Korhonen, Anna and Vuli{\\'c}, Ivan},
  booktitle={Findings of the Association for Computational Linguistics: ACL 2023},
  year={2023}
}""",
    "embed-init": """@inproceedings{liu2024ofa,
  title={{OFA}: A Framework of Initializing Unseen Subword Embeddings for Efficient Large-scale Multilingual Continued Pretraining},
  author={Liu, Yihong and Lin, Peiqin and Wang, Mingyang and Sch{\\"u}tze, Hinrich},
  booktitle={Findings of the Association for Computational Linguistics: NAACL 2024},
  year={2024}
}""",
    "stack": """@inproceedings{schmidt2024self,
  title={Self-Distillation for Model Stacking Unlocks Cross-Lingual {NLU} in 200+ Languages},
  author={Schmidt, Fabian David and Borchert, Philipp and Vuli{\\'c}, Ivan and Glava{\\v{s}}, Goran},
  booktitle={Findings of the Association for Computational Linguistics: EMNLP 2024},
  year={2024}
}""",
    "eval": """@article{artetxe2019massively,
  title={Massively Multilingual Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond},
  author={Artetxe, Mikel and Schwenk, Holger},
  journal={Transactions of the Association for Computational Linguistics},
  volume={7},
  year={2019}
}""",
}
SOURCE_NAMES = {"en": "English"}
STAGE_TAGS = {"trim": "vocabulary-trimming", "distill": "knowledge-distillation", "embed-init": "embedding-initialization",
              "stack": "model-stacking"}


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
    data: list[str]
    """What the build read, one line each."""
    versions: dict[str, str]
    speed: Speed | None = None
    artifacts: list[str] = field(default_factory=list)
    """Relative folders of extra artifacts (sparse differences, adapters) shipped beside the model."""
    pooling_switch: bool = True
    """Whether the architecture takes add_pooling_layer (then the usage example turns the unused pooler off)."""

    def citations(self) -> list[str]:
        keys = (["e5"] if self.base_model and "e5" in self.base_model.lower() else []) + [s.name for s in self.stages]
        return [CITATIONS[k] for k in dict.fromkeys(keys) if k in CITATIONS]

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
        tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "polyglot-kd"]
        tags += [STAGE_TAGS[s.name] for s in self.stages if s.name in STAGE_TAGS]
        return ModelCardData(language=[self.language, self.source], license=self.license, base_model=self.base_model,
                             tags=tags, library_name="sentence-transformers", pipeline_tag="sentence-similarity",
                             model_name=self.name, eval_results=results or None)


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def _evaluation(card: ReleaseCard) -> list[str]:
    sets = [s.dataset for s in card.scores]
    lines = ["| model | params | " + " | ".join(sets) + " |", "|---|---|" + "---|" * len(sets)]
    for name, row in card.comparison.items():
        label = f"**{card.name}** ({name})" if name == card.released_stage else name
        if name == "teacher":
            label = f"teacher ({card.base_model or card.teacher})"
        cells = [_pct(row["scores"].get(d)) for d in sets]
        lines.append(f"| {label} | {row['params'] / 1e6:.2f}M | " + " | ".join(cells) + " |")
    lines += ["", "| dataset | pairs | this model | teacher | difference | "
              f"{card.source}->{card.language} | {card.language}->{card.source} |", "|---|---|---|---|---|---|---|"]
    for s in card.scores:
        diff = "" if s.teacher is None else f"{100 * (s.mean - s.teacher):+.1f}"
        lines.append(f"| {s.dataset} | {s.n or ''} | {_pct(s.mean)} | {_pct(s.teacher)} | {diff} | "
                     f"{_pct(s.src2tgt)} | {_pct(s.tgt2src)} |")
    return lines


def _usage(card: ReleaseCard) -> list[str]:
    prefix = f'"{card.prefix}" + ' if card.prefix else ""
    return [
        "```python", "from sentence_transformers import SentenceTransformer", "",
        f'model = SentenceTransformer("{card.name}")  # or the path of this folder',
        f'embeddings = model.encode(["Hello, world!"])  # {card.max_seq_length} tokens at most, L2-normalised',
        "```", "", "With transformers alone (mean pooling over the attention mask, then L2 normalisation):", "",
        "```python", "import torch", "from transformers import AutoModel, AutoTokenizer", "",
        f'tokenizer = AutoTokenizer.from_pretrained("{card.name}")',
        f'model = AutoModel.from_pretrained("{card.name}"' + (", add_pooling_layer=False)" if card.pooling_switch else ")"),
        f'batch = tokenizer([{prefix}"Hello, world!"], padding=True, truncation=True, max_length={card.max_seq_length}, return_tensors="pt")',
        "hidden = model(**batch).last_hidden_state", 'mask = batch["attention_mask"].unsqueeze(-1).float()',
        "embeddings = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)", "```",
    ]


def render_card(card: ReleaseCard) -> str:
    """The model card: YAML metadata header, then the Markdown body."""
    teacher = f"[{card.base_model}](https://huggingface.co/{card.base_model})" if card.base_model else f"`{card.teacher}`"
    stages = ", ".join(s.name for s in card.stages if s.name != "eval")
    lines = [
        "---", card.card_data().to_yaml().rstrip(), "---", "", f"# {card.name}", "",
        f"A compact sentence encoder for {card.language_name or card.language} ({card.language}) and "
        f"{SOURCE_NAMES.get(card.source, card.source)} made from {teacher} "
        f"by polyglot-kd (stages: {stages}). It keeps "
        f"{card.params / 1e6:.2f}M of the teacher's {card.teacher_params / 1e6:.2f}M parameters "
        f"({card.params / card.teacher_params:.3f}x, {card.teacher_params / card.params:.1f}x smaller) and "
        f"{card.vocab_size:,} of its {card.teacher_vocab_size:,} tokens.", "",
        "## Usage", "", *_usage(card), "",
        "## Evaluation", "",
        f"Tatoeba-style retrieval, {card.source} <-> {card.language}: top-1 accuracy (%) of finding each "
        "sentence's translation by cosine similarity, mean of both directions, held-out data; "
        f"max {card.max_seq_length} tokens" + (f", prefix {card.prefix!r}" if card.prefix else ", no prefix") + ".", "",
        *_evaluation(card), "",
        "## Size and speed", "",
        f"- parameters: {card.params:,} (teacher {card.teacher_params:,})",
        f"- vocabulary: {card.vocab_size:,} tokens (teacher {card.teacher_vocab_size:,})",
        f"- weights: {card.weights_bytes / 2**20:.1f} MiB (safetensors)",
    ]
    if card.speed:
        s = card.speed
        lines.append(f"- encoding speed: {s.model_per_second:.1f} sentences/s vs the teacher's {s.teacher_per_second:.1f} "
                     f"({s.speedup:.2f}x), measured side by side on the same {s.sentences} held-out sentences, "
                     f"batch {s.batch_size}, {s.threads} CPU threads, max {s.max_length} tokens, the two models "
                     f"taking turns batch by batch, best of {s.rounds} rounds per batch")
    else:
        lines.append("- encoding speed: not measured")
    lines += ["", "## How it was made", ""]
    for st in card.stages:
        lines.append(f"- **{st.name}**" + (f" ({st.seconds:.1f} s)" if st.seconds else "") + ": settings "
                     f"`{json.dumps(st.settings, ensure_ascii=False)}`"
                     + (f"; results `{json.dumps(st.metrics, ensure_ascii=False)}`" if st.metrics else ""))
    lines += ["", "Data read by the build (no text is shipped with the model):", "", *[f"- {d}" for d in card.data]]
    if card.artifacts:
        lines += ["", "## Extra artifacts", "", *[f"- `{a}/`" for a in card.artifacts]]
    lines += [
        "", "## Files", "",
        "`SHA256SUMS` lists the SHA-256 of every file; check a copy with `sha256sum -c SHA256SUMS` "
        "or `polyglot_kd.pipeline.release.verify_release(folder)`.", "",
        "## Software", "", ", ".join(f"{k} {v}" for k, v in card.versions.items()), "",
        "## Citation", "", "Methods used to make this model:", "",
    ]
    lines += [f"```bibtex\n{c}\n```\n" for c in card.citations()]
    return "\n".join(lines).rstrip() + "\n"


def card_scores(path) -> dict[str, float]:
    """Dataset -> mean retrieval accuracy (%) as a model card's model-index states it."""
    card = ModelCard.load(path)
    return {r.dataset_type: float(r.metric_value) for r in card.data.eval_results or [] if r.metric_type == MEAN_METRIC}
