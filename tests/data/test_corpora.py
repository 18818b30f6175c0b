"""Corpora from the user's files and `datasets`: every kind reads the same pairs, typos and bad files fail
before any work with the file and line, test sentences leave the training text, user test sets are reported."""

from __future__ import annotations

import json
import os

import pytest

from polyglot_kd.config import parse_config
from polyglot_kd.core.errors import ConfigError
from polyglot_kd.data import corpora
from polyglot_kd.data.arrow_pairs import PairFile, TextColumn
from polyglot_kd.pipeline import build
from polyglot_kd.pipeline.checks import corpus_problems
from tests.tiny import EN, EN_TEST, PT, PT_TEST

PAIRS = list(zip(EN + ["the bird sleeps", "a dog sings"], PT + ["o pássaro dorme", "um cão canta"]))


def config_with(*sources, code="pt", **corpus):
    return parse_config({"code": code, "corpus": {"embedded": [], **corpus, "sources": list(sources)}})


def write_aligned(folder, pairs, stem="train"):
    (folder / f"{stem}.en.txt").write_text("".join(f"{s}\n" for s, _ in pairs), encoding="utf-8")
    (folder / f"{stem}.pt.txt").write_text("".join(f"{t}\n" for _, t in pairs), encoding="utf-8")
    return {"kind": "aligned", "paths": [str(folder / f"{stem}.en.txt"), str(folder / f"{stem}.pt.txt")]}


def held_out_split(tmp_path):
    return write_aligned(tmp_path, list(zip(EN_TEST, PT_TEST)), "test") | {"role": "test"}


def test_every_kind_reads_the_same_normalised_pairs(tmp_path):
    import datasets

    kinds = {"aligned": write_aligned(tmp_path, [(f"  {s}\t", t) for s, t in PAIRS])}
    (tmp_path / "pairs.tsv").write_text("".join(f"{s}\t {t}\n" for s, t in PAIRS) + "\n", encoding="utf-8")
    kinds["tsv"] = {"kind": "tsv", "path": str(tmp_path / "pairs.tsv")}
    units = "".join(f'<tu><tuv xml:lang="en-US"><seg>{s}</seg></tuv><tuv xml:lang="pt_BR"><seg>{t}</seg></tuv></tu>'
                    for s, t in PAIRS)
    (tmp_path / "pairs.tmx").write_text(f'<?xml version="1.0" encoding="UTF-8"?><tmx version="1.4"><header/><body>'
                                        f'{units}</body></tmx>', encoding="utf-8")
    kinds["tmx"] = {"kind": "tmx", "path": str(tmp_path / "pairs.tmx")}
    table = datasets.Dataset.from_dict({"en": [s for s, _ in PAIRS], "pt": [t for _, t in PAIRS], "id": list(range(len(PAIRS)))})
    table.save_to_disk(str(tmp_path / "saved"))
    table.to_csv(str(tmp_path / "pairs.csv"))
    table.to_parquet(str(tmp_path / "pairs.parquet"))
    nested = datasets.Dataset.from_dict({"translation": [{"en": s, "pt": t} for s, t in PAIRS]})
    nested.to_json(str(tmp_path / "pairs.jsonl"))
    for name, path, columns in (("saved", "saved", ["en", "pt"]), ("csv", "pairs.csv", ["en", "pt"]),
                                ("parquet", "pairs.parquet", ["en", "pt"]),
                                ("json", "pairs.jsonl", ["translation.en", "translation.pt"])):
        kinds[name] = {"kind": "dataset", "path": str(tmp_path / path), "columns": columns}
    for name, source in kinds.items():
        config = config_with(source | {"role": "train"}, held_out_split(tmp_path))
        assert corpus_problems(config) == [], name
        train = corpora.train_text(config)
        held_out = train.dev_held_out
        assert held_out == 1 and len(train.pairs) + held_out == len(PAIRS), name
        dev = corpora.dev_set(config)
        assert set(zip(train.pairs.source, train.pairs.target)) | set(zip(dev.source, dev.target)) == set(PAIRS), name


def test_monolingual_text_is_counted_not_distilled(tmp_path):
    (tmp_path / "mono.pt.txt").write_text("um gato\n\num cão\n", encoding="utf-8")
    config = config_with(write_aligned(tmp_path, PAIRS) | {"role": "train"}, held_out_split(tmp_path),
                         {"role": "train", "kind": "monolingual", "path": str(tmp_path / "mono.pt.txt")})
    train = corpora.train_text(config)
    assert {"um gato", "um cão"} <= set(train.counting["target"]) and "um gato" not in train.pairs.target
    assert len(train.counting["source"]) == len(train.pairs)


def test_test_sentences_leave_the_training_text_and_are_counted(tmp_path):
    overlap = [(EN_TEST[0], PT_TEST[0]), ("a new sentence", PT_TEST[1])]  # one side is enough
    config = config_with(write_aligned(tmp_path, PAIRS + overlap) | {"role": "train"}, held_out_split(tmp_path),
                         dev_items=3)
    train = corpora.train_text(config)
    assert train.removed["pairs"] == 2
    assert not set(train.pairs.target) & set(PT_TEST) and not set(train.counting["target"]) & set(PT_TEST)


def test_config_typos_fail_like_the_rest_of_the_config(tmp_path):
    with pytest.raises(ConfigError) as err:
        config_with({"role": "train", "kind": "aligned", "paths": ["a", "b"], "colums": ["en", "pt"]},
                    {"role": "tset", "kind": "tsv", "path": "t.tsv"},
                    {"role": "test", "kind": "monolingual", "path": "m.txt"},
                    {"role": "train", "kind": "aligend", "paths": ["a"]},
                    {"role": "train", "kind": "aligned", "paths": ["a"]},
                    {"role": "train", "kind": "dataset", "path": "x"})
    text = str(err.value)
    assert "corpus.sources[0].colums: unknown key (did you mean 'columns'?)" in text
    assert "corpus.sources[1].role: 'tset' is not one of ['train', 'dev', 'test'] (did you mean 'test'?)" in text
    assert "corpus.sources[2]: a monolingual source serves only role(s) ['train'], not 'test'" in text
    assert "corpus.sources[3].kind: 'aligend' is not one of" in text and "did you mean 'aligned'" in text
    assert "corpus.sources[4].paths: an aligned source needs paths = [source file, target file], got paths = ['a']" in text
    assert "corpus.sources[5].columns: a dataset source needs [source column, target column], got []" in text
    with pytest.raises(ConfigError, match=r"corpus.sources: expected an array of tables \(\[\[corpus.sources\]\]\)"):
        parse_config({"code": "pt", "corpus": {"sources": {"role": "train"}}})


def problems_of(tmp_path, train_source, test=None) -> str:
    config = config_with(train_source | {"role": "train"}, test or held_out_split(tmp_path))
    found = corpus_problems(config)
    with pytest.raises(ConfigError):  # and the build refuses before any work
        build.preflight(config, ["trim"])
    return "\n".join(found)


def test_aligned_files_with_different_line_counts_say_both_counts(tmp_path):
    source = write_aligned(tmp_path, PAIRS)
    with open(source["paths"][1], "a", encoding="utf-8") as f:
        f.write("uma linha a mais\n")
    assert f"has {len(PAIRS)} lines and {source['paths'][1]} has {len(PAIRS) + 1}" in problems_of(tmp_path, source)


def test_an_empty_line_on_one_side_names_the_file_and_line(tmp_path):
    source = write_aligned(tmp_path, PAIRS[:2] + [(PAIRS[2][0], "")] + PAIRS[3:])
    assert f"line 3 is empty in {source['paths'][1]} but not in {source['paths'][0]}" in problems_of(tmp_path, source)


def test_bytes_that_are_not_utf8_name_the_file_and_line(tmp_path):
    source = write_aligned(tmp_path, PAIRS)
    with open(source["paths"][1], "ab") as f:
        f.write(b"latin-1 \xe9t\xe9\n")
    with open(source["paths"][0], "a", encoding="utf-8") as f:
        f.write("one more\n")
    text = problems_of(tmp_path, source)
    assert f"{source['paths'][1]}, line {len(PAIRS) + 1}: not UTF-8 (byte 0xe9" in text


def test_a_dataset_without_the_named_columns_lists_the_ones_it_has(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"english": ["a"], "portuguese": ["b"]}).save_to_disk(str(tmp_path / "saved"))
    source = {"kind": "dataset", "path": str(tmp_path / "saved"), "columns": ["en", "pt"]}
    assert "has no column(s) ['en', 'pt']; its columns: ['english', 'portuguese']" in problems_of(tmp_path, source)


def test_an_empty_corpus_and_missing_files_are_named(tmp_path):
    (tmp_path / "empty.tsv").write_text("\n\n", encoding="utf-8")
    assert f"no sentences in {tmp_path / 'empty.tsv'}" in problems_of(tmp_path, {"kind": "tsv", "path": str(tmp_path / "empty.tsv")})
    text = problems_of(tmp_path, {"kind": "aligned", "paths": [str(tmp_path / "no.en"), str(tmp_path / "no.pt")]})
    assert f"file {tmp_path / 'no.en'} does not exist" in text and f"file {tmp_path / 'no.pt'} does not exist" in text


def test_a_test_split_inside_the_training_text_is_refused(tmp_path):
    source = write_aligned(tmp_path, PAIRS)
    test = write_aligned(tmp_path, PAIRS[:3], "test") | {"role": "test", "name": "same"}
    assert "every one of the 3 pairs of test set 'same' also occurs in the training text" in problems_of(tmp_path, source, test)


def test_a_users_test_set_is_reported_beside_the_bible_and_the_overlap_recorded(tiny_world, tmp_path):
    config, workdir = tiny_world
    data = config.to_dict()
    extra = write_aligned(tmp_path, [("the cat sleeps in the garden", "o gato dorme no jardim"),
                                     (EN_TEST[2], "o pássaro corre")])  # its English is a test sentence
    (tmp_path / "support.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in zip(EN_TEST, PT_TEST)), encoding="utf-8")
    data["corpus"]["sources"] = [extra | {"role": "train"},
                                 {"role": "test", "kind": "tsv", "path": str(tmp_path / "support.tsv")}]
    config = parse_config(data)
    manifests = build.run_build(config, workdir, ["trim", "distill", "eval"])
    assert manifests["trim"]["metrics"]["test_overlap_removed"]["pairs"] == 1
    assert manifests["distill"]["metrics"]["training_pairs"] == len(EN) + 1
    report = json.loads((workdir / "pt" / "eval" / "report.json").read_text())
    assert list(report["datasets"]) == ["bible-test", "udhr", "support"]
    assert set(report["models"]["distill"]["mining"]) == {"bible-test", "udhr", "support"}
    assert "support" in (workdir / "pt" / "eval" / "report.md").read_text()


def test_the_model_card_names_the_users_sources_without_their_folders(tmp_path):
    from polyglot_kd.pipeline.release import data_lines

    config = config_with(write_aligned(tmp_path, PAIRS) | {"role": "train"}, held_out_split(tmp_path))
    lines = data_lines(config)
    assert "train text 'train' (aligned): train.en.txt + train.pt.txt" in lines
    assert not any("Bible" in line or str(tmp_path) in line for line in lines)


def test_training_text_made_only_of_test_sentences_is_refused(tmp_path):
    source = write_aligned(tmp_path, PAIRS[:2])
    test = write_aligned(tmp_path, PAIRS, "test") | {"role": "test"}
    assert "nothing is left of the training text once the test sentences are removed" in problems_of(tmp_path, source, test)


def test_the_train_role_is_streamed_to_files_once_and_read_back_memory_mapped(tmp_path):
    """Repeated pairs dropped, monolingual text counted, the files reused while the corpus is unchanged and
    rewritten (in a new folder) when a source file changes."""
    (tmp_path / "mono.pt.txt").write_text("um gato\n", encoding="utf-8")
    source = write_aligned(tmp_path, PAIRS + PAIRS[:3]) | {"role": "train"}
    config = config_with(source, held_out_split(tmp_path),
                         {"role": "train", "kind": "monolingual", "path": str(tmp_path / "mono.pt.txt")})
    files = corpora.train_files(config, tmp_path / "corpus")
    assert isinstance(files.pairs, PairFile) and isinstance(files.counting["target"], TextColumn)
    pairs = list(zip(files.pairs.dataset["source"], files.pairs.dataset["target"]))
    assert len(pairs) == len(set(pairs)) == len(PAIRS) - files.dev_held_out  # the repeats are gone
    assert list(files.counting["target"]) == ["um gato"] + [t for _, t in pairs]
    assert files.counting["target"][1:3] == [t for _, t in pairs[:2]]
    written = (files.folder / corpora.PAIRS_FILE).stat().st_mtime_ns
    again = corpora.train_files(config, tmp_path / "corpus")
    assert again.folder == files.folder and (again.folder / corpora.PAIRS_FILE).stat().st_mtime_ns == written
    lists = corpora.train_text(config)
    assert list(zip(lists.pairs.source, lists.pairs.target)) == pairs and lists.removed == files.removed
    write_aligned(tmp_path, PAIRS[:3])
    changed = corpora.train_files(config, tmp_path / "corpus")
    assert changed.folder != files.folder and len(changed.pairs) < len(files.pairs)


def test_a_half_written_corpus_is_not_read_and_a_rerun_rewrites_it(tmp_path, monkeypatch):
    config = config_with(write_aligned(tmp_path, PAIRS) | {"role": "train"}, held_out_split(tmp_path))

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpora, "_held_out_dev", fail)  # stopped half way through writing
    with pytest.raises(KeyboardInterrupt):
        corpora.train_files(config, tmp_path / "corpus")
    assert [p.name.endswith(".partial") for p in (tmp_path / "corpus").iterdir()] == [True]
    monkeypatch.undo()
    dead = next((tmp_path / "corpus").iterdir()).name.replace(f".{os.getpid()}.", ".999999999.")
    (tmp_path / "corpus" / dead).mkdir()  # what a killed writer left
    files = corpora.train_files(config, tmp_path / "corpus")
    assert len(files.pairs) + files.dev_held_out == len(PAIRS) and not list((tmp_path / "corpus").glob("*.partial"))
