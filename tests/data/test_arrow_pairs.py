import numpy as np

from polyglot_kd.data.arrow_pairs import PairFile, open_pairs, write_pairs
from polyglot_kd.data.bible import ParallelSet
from polyglot_kd.methods.bistil.objective import BilingualBatches
from polyglot_kd.methods.trim import vocab
from polyglot_kd.pipeline.bench import repeated_pairs
from tests.tiny import CORPUS, unigram_tokenizer


def test_pairs_written_in_chunks_read_back_memory_mapped(tmp_path):
    pairs = [(f"source {i}", f"target {i}") for i in range(25)]
    path = tmp_path / "pairs.arrow"
    assert write_pairs(iter(pairs), path, chunk=7) == 25
    dataset = open_pairs(path)
    assert len(dataset) == 25 and dataset[13] == {"source": "source 13", "target": "target 13"}
    assert not (tmp_path / "pairs.arrow.tmp").exists()


def test_counting_batches_from_the_file_equals_counting_the_lists(tmp_path):
    tokenizer = unigram_tokenizer()
    pairs = list(repeated_pairs(CORPUS, CORPUS[::-1], 3 * len(CORPUS) + 2))
    write_pairs(pairs, tmp_path / "pairs.arrow", chunk=4)
    dataset = open_pairs(tmp_path / "pairs.arrow")
    streamed = vocab.count_token_batches(tokenizer, (b["target"] for b in dataset.iter(batch_size=3)))
    assert np.array_equal(streamed, vocab.count_tokens(tokenizer, [t for _, t in pairs])) and streamed.sum() > 0


def test_distillation_batches_from_the_file_are_the_batches_of_the_lists(tmp_path):
    """The file gives the lists' batches, step for step (lengths in characters, so 'ção' is 3)."""
    source = [f"{w} {i}" for i, w in enumerate(CORPUS * 3)]
    target = [("ção " * (i % 7)) + t for i, t in enumerate(CORPUS[::-1] * 3)]
    in_memory = ParallelSet("train", source, target)
    write_pairs(zip(source, target), tmp_path / "pairs.arrow")
    on_disk = PairFile(tmp_path / "pairs.arrow")
    assert len(on_disk) == len(in_memory) and list(on_disk.target_lengths()) == in_memory.target_lengths()
    lists, file = BilingualBatches(in_memory, 4, seed=3), BilingualBatches(on_disk, 4, seed=3)
    assert [lists(b) for b in range(3 * lists.per_epoch)] == [file(b) for b in range(3 * file.per_epoch)]


def test_repeated_pairs_makes_whole_shuffled_passes():
    source, target = [str(i) for i in range(10)], [f"t{i}" for i in range(10)]
    pairs = list(repeated_pairs(source, target, 25))
    assert len(pairs) == 25 and all(t == f"t{s}" for s, t in pairs)
    assert sorted(s for s, _ in pairs[:10]) == source and [s for s, _ in pairs[:10]] != [s for s, _ in pairs[10:20]]


def test_the_count_benchmark_counts_both_sides_the_same_either_way(tmp_path):
    from polyglot_kd.pipeline.bench import count_here

    tokenizer = unigram_tokenizer()
    tokenizer.save_pretrained(tmp_path / "tok")
    # the target side is twice as long: counting one side twice would show
    pairs = list(repeated_pairs(CORPUS, [f"{s} {s}" for s in CORPUS], 2 * len(CORPUS)))
    write_pairs(pairs, tmp_path / "pairs.arrow")
    expected = int(vocab.count_tokens(tokenizer, [s for s, _ in pairs] + [t for _, t in pairs]).sum())
    arrow = count_here("arrow", tmp_path / "pairs.arrow", tmp_path / "tok", len(pairs))
    lists = count_here("lists", tmp_path / "pairs.arrow", tmp_path / "tok", len(pairs))
    assert arrow["tokens"] == lists["tokens"] == expected and arrow["pairs"] == len(pairs)
    assert arrow["peak_anon_mib"] >= arrow["anon_before_mib"] > 0


def test_the_batch_benchmark_draws_the_same_text_from_the_file_and_the_lists(tmp_path):
    from polyglot_kd.pipeline.bench import _in_child, batches_here

    write_pairs(list(repeated_pairs(CORPUS, CORPUS[::-1], 3 * len(CORPUS))), tmp_path / "pairs.arrow")
    arrow = batches_here("arrow", str(tmp_path / "pairs.arrow"), 40, steps=6, batch_size=4)
    lists = _in_child("batches_here", "lists", tmp_path / "pairs.arrow", 40, 6, 4)  # also: the child runner
    assert arrow["pairs"] == lists["pairs"] == 40 and arrow["characters"] == lists["characters"] > 0


def test_the_corpus_benchmark_joins_real_pairs_into_distinct_ones():
    from polyglot_kd.pipeline.bench import joined_pairs

    sentences = sorted(set(CORPUS))
    pairs = list(joined_pairs(sentences, [f"t{s}" for s in sentences], 5 * len(sentences)))
    assert len(pairs) == len(set(pairs)) == 5 * len(sentences)  # none dropped as a repeat by the corpus layer
    joins = {(f"{a} {b}", f"t{a} t{b}") for a in sentences for b in sentences}
    assert set(pairs) <= joins  # each two real pairs, side by side


def test_the_corpus_benchmark_refuses_more_pairs_than_its_pairs_join_into(monkeypatch, tmp_path):
    import pytest

    from polyglot_kd.config import parse_config
    from polyglot_kd.core.errors import PolyglotError
    from polyglot_kd.data import corpora
    from polyglot_kd.data.bible import ParallelSet
    from polyglot_kd.data.corpora import TrainText
    from polyglot_kd.pipeline import bench

    three = ParallelSet("train", ["a", "b", "c"], ["x", "y", "z"])
    monkeypatch.setattr(corpora, "train_text", lambda config: TrainText(three, {}))
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path))
    with pytest.raises(PolyglotError, match=r"--pairs: 7 is more than the 6 distinct pairs that 3 pt training pairs"):
        bench.corpus_benchmark(parse_config({"code": "pt"}), 7)
    assert not list(tmp_path.rglob("*"))  # refused before anything was written
