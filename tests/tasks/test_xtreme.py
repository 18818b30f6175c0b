"""XTREME loaders on small files written here in exactly the published formats, and the three
training paths (sequence classification, token classification, extractive QA) on a tiny model."""

from __future__ import annotations

import json

import pytest

from polyglot_kd.config import FinetuneConfig
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.pipeline import task_runs as runner
from polyglot_kd.tasks import get_task, task_names
from tests.tiny import save_tiny_model


def test_registry_lists_every_task_with_a_metric():
    for name in task_names():
        task = get_task(name)
        assert task.primary_metric and isinstance(task.greater_is_better, bool)
        assert task.trained == (task.load is not None) and task.trained == (task.metrics is not None)
    with pytest.raises(PolyglotError, match="unknown task 'xnl' .*did you mean 'xnli'.*known: retrieval, mining"):
        get_task("xnl")


def test_xnli_from_published_files(xnli_dir):
    task = get_task("xnli")
    train = task.load("train", "en", str(xnli_dir))
    assert len(train) == 12  # the '-' (no gold label) row is dropped
    assert train.examples[0] == {"text": "the cat sleeps on the sofa", "text_pair": "a cat sleeps", "label": "entailment"}
    dev, test = task.load("dev", "en", str(xnli_dir)), task.load("test", "de", str(xnli_dir))
    assert len(dev) == 3 and len(test) == 3 and test.examples[2]["label"] == "neutral"
    with pytest.raises(PolyglotError, match="does not cover language 'pt'"):
        task.check_language("pt")


def test_malformed_tsv_names_the_line(xnli_dir):
    path = xnli_dir / "XNLI-1.0" / "xnli.test.tsv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit("\t", 2)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PolyglotError, match=r"xnli.test.tsv:4: expected 19 tab-separated fields, found 17"):
        get_task("xnli").load("test", "de", str(xnli_dir))
    with pytest.raises(PolyglotError, match="data path .*/nowhere does not exist"):
        get_task("xnli").load("test", "de", str(xnli_dir / "nowhere"))


def test_pawsx_from_published_files(tmp_path):
    for lang, split, name in (("en", "train", "train.tsv"), ("en", "dev", "dev_2k.tsv"), ("fr", "test", "test_2k.tsv")):
        (tmp_path / "x-final" / lang).mkdir(parents=True, exist_ok=True)
        (tmp_path / "x-final" / lang / name).write_text(
            "id\tsentence1\tsentence2\tlabel\n1\tThe cat sleeps .\tThe cat is asleep .\t1\n"
            "2\tThe dog runs .\tThe runs dog .\t0\n")
    task = get_task("pawsx")
    test = task.load("test", "fr", str(tmp_path))
    assert [e["label"] for e in test.examples] == ["1", "0"] and test.examples[0]["text_pair"] == "The cat is asleep ."


def test_panx_from_published_files(tmp_path):
    for lang in ("en", "sw"):
        (tmp_path / lang).mkdir()
        for split in ("train", "dev", "test"):
            (tmp_path / lang / split).write_text(
                f"{lang}:Paris\tB-LOC\n{lang}:is\tO\n{lang}:nice\tO\n\n{lang}:John\tB-PER\n{lang}:Smith\tI-PER\n")
    task = get_task("panx")
    data = task.load("test", "sw", str(tmp_path))
    assert data.examples == [{"words": ["Paris", "is", "nice"], "labels": ["B-LOC", "O", "O"]},
                             {"words": ["John", "Smith"], "labels": ["B-PER", "I-PER"]}]
    (tmp_path / "sw" / "test").write_text("sw:Paris B-LOC\n")
    with pytest.raises(PolyglotError, match=r"sw/test:1: expected 'token<TAB>tag'"):
        task.load("test", "sw", str(tmp_path))


def test_udpos_from_treebank_files(tmp_path):
    conllu = ("# sent_id = 1\n# text = The cat sleeps.\n1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n"
              "2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_\n3\tsleeps\tsleep\tVERB\tVBZ\t_\t0\troot\t_\tSpaceAfter=No\n"
              "4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n\n")
    (tmp_path / "UD_English-EWT").mkdir()
    (tmp_path / "UD_English-EWT" / "en_ewt-ud-train.conllu").write_text(conllu)
    (tmp_path / "UD_Turkish-IMST").mkdir()
    (tmp_path / "UD_Turkish-IMST" / "tr_imst-ud-test.conllu").write_text(conllu.replace("NOUN", "PROPN"))
    task = get_task("udpos")
    assert task.load("train", "en", str(tmp_path)).examples[0]["labels"] == ["DET", "NOUN", "VERB", "PUNCT"]
    assert task.load("test", "tr", str(tmp_path)).examples[0]["labels"][1] == "PROPN"
    with pytest.raises(PolyglotError, match="no UD treebank file de_\\*-ud-test.conllu"):
        task.load("test", "de", str(tmp_path))


def _squad(qas, context="The cat sleeps on the sofa in Paris."):
    return {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}


def _qa(i, question, answer, context="The cat sleeps on the sofa in Paris."):
    return {"id": i, "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}


@pytest.fixture
def qa_dir(tmp_path):
    qas = [_qa(f"q{i}", q, a) for i, (q, a) in enumerate([("Where does the cat sleep?", "on the sofa"),
                                                          ("Who sleeps?", "The cat"), ("Which city?", "Paris")] * 4)]
    (tmp_path / "train-v1.1.json").write_text(json.dumps(_squad(qas)))
    (tmp_path / "dev-v1.1.json").write_text(json.dumps(_squad(qas[:3])))
    ctx = "O gato dorme no sofá em Paris."
    (tmp_path / "xquad.de.json").write_text(json.dumps(_squad([_qa("x1", "Wo?", "Paris", ctx)], ctx)))
    (tmp_path / "test-context-de-question-de.json").write_text(json.dumps(_squad([_qa("m1", "Wo?", "Paris", ctx)], ctx)))
    tydi = [_qa(f"english-{i}", q["question"], q["answers"][0]["text"]) for i, q in enumerate(qas)]
    (tmp_path / "tydiqa-goldp-v1.1-train.json").write_text(json.dumps(_squad(tydi)))
    (tmp_path / "tydiqa-goldp-v1.1-dev.json").write_text(json.dumps(_squad(
        [_qa("swahili-1", "Paka analala wapi?", "on the sofa"), _qa("english-9", "Who?", "The cat")])))
    return tmp_path


def test_qa_loaders_read_squad_format(qa_dir):
    xquad = get_task("xquad")
    assert len(xquad.load("train", "en", str(qa_dir))) == 12
    test = xquad.load("test", "de", str(qa_dir))
    assert test.examples[0]["answers"] == {"text": ["Paris"], "answer_start": [24]}
    assert get_task("mlqa").load("test", "de", str(qa_dir)).examples[0]["id"] == "m1"
    tydi = get_task("tydiqa")
    assert [e["id"] for e in tydi.load("test", "sw", str(qa_dir)).examples] == ["swahili-1"]
    train, dev = tydi.load("train", "en", str(qa_dir)), tydi.load("dev", "en", str(qa_dir))
    assert len(train) + len(dev) == 12 and not {e["id"] for e in train.examples} & {e["id"] for e in dev.examples}


def test_qa_file_with_misplaced_answer_is_refused(qa_dir):
    bad = _squad([{"id": "b", "question": "?", "answers": [{"text": "Paris", "answer_start": 3}]}])
    (qa_dir / "xquad.de.json").write_text(json.dumps(bad))
    with pytest.raises(PolyglotError, match="answer 'Paris' is not at character 3"):
        get_task("xquad").load("test", "de", str(qa_dir))
    (qa_dir / "xquad.de.json").write_text('{"data": [\n  {"title": "t",\n  oops}]}')
    with pytest.raises(PolyglotError, match=r"xquad.de.json:3: not JSON"):
        get_task("xquad").load("test", "de", str(qa_dir))


def test_squad_metric_normalises_like_mlqa():
    from polyglot_kd.tasks.metrics import squad

    scores = squad([["The cat"], ["on the sofa"], ["Paris"]], ["cat", "the sofa!", "London"])
    assert scores["exact_match"] == pytest.approx(1 / 3) and scores["f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert squad([["der Hund"]], ["Hund"], language="de")["exact_match"] == 1.0
    assert squad([["北京大学"]], ["北京"], language="zh")["f1"] == pytest.approx(2 / 3)


def test_entity_f1_uses_seqeval():
    from polyglot_kd.tasks.metrics import entity_f1

    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    assert entity_f1(gold, [["B-PER", "I-PER", "O", "O"]])["f1"] == pytest.approx(2 / 3)
    assert entity_f1(gold, [["B-PER", "O", "O", "B-LOC"]])["precision"] == pytest.approx(0.5)


TINY = FinetuneConfig(seeds=[1], epochs=2, dense_epochs=1, sparse_epochs=1, learning_rate=1e-3,
                      adapter_learning_rate=1e-2, batch_size=4, max_length=48, train_examples=0, dev_examples=50,
                      test_examples=0)


@pytest.mark.parametrize("task_name, fixture, lang", [("xnli", "xnli_dir", "de"), ("xquad", "qa_dir", "de"),
                                                      ("tydiqa", "qa_dir", "sw")])
@pytest.mark.parametrize("method", ["lt-sft", "adapters"])
def test_every_kind_trains_and_scores_on_a_tiny_model(task_name, fixture, lang, method, request, tmp_path):
    source = request.getfixturevalue(fixture)
    task = get_task(task_name)
    model = save_tiny_model(tmp_path / "model")
    splits = runner.load_splits(task, [lang], TINY, str(source))
    [result] = runner.run_seeds(task, model, method, TINY, splits, tmp_path / "artifacts")
    assert 0.0 <= result["test"][lang][task.primary_metric] <= 1.0
    assert result["dev"][task.primary_metric] >= 0.0 and result["parameters"]["stored_share"] < 0.5
    [record] = runner.records("tiny", model, task, method, TINY, splits, [result])
    assert record["language"] == lang and record["metric"] == task.primary_metric and record["std"] == 0.0


def test_hub_path_maps_class_labels(monkeypatch):
    """The hub branch: the right repo / config / split is asked for, and ClassLabel ids become names."""
    import datasets

    calls = []

    def fake_load(repo, config=None, split=None, cache_dir=None):
        calls.append((repo, config, split))
        if repo == "facebook/xnli":
            features = datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                                          "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"])})
            return datasets.Dataset.from_dict({"premise": ["p"], "hypothesis": ["h"], "label": [2]}, features=features)
        features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                      "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(get_task("panx").labels)))})
        return datasets.Dataset.from_dict({"tokens": [["Nairobi", "ni"]], "ner_tags": [[5, 0]]}, features=features)

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    assert get_task("xnli").load("test", "sw").examples == [{"text": "p", "text_pair": "h", "label": "contradiction"}]
    assert get_task("panx").load("dev", "en").examples == [{"words": ["Nairobi", "ni"], "labels": ["B-LOC", "O"]}]
    assert calls == [("facebook/xnli", "sw", "test"), ("google/xtreme", "PAN-X.en", "validation")]


def test_offline_hub_error_says_how_to_use_local_files(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(PolyglotError, match=r"could not load 'google/xquad'.*--data TASK=PATH"):
        get_task("xquad").load("test", "de")
