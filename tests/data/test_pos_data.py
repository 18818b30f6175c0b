"""POS data: the Brown -> universal map, the readers (with line-numbered errors) and label checks."""

from __future__ import annotations

import pytest

from polyglot_kd.data import postags
from polyglot_kd.data.tagged import conllu_sentences, read_conllu, read_slash_tagged
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.tasks.data import TaskData, check_labels


@pytest.mark.parametrize("tag, universal", [
    ("nn", "NOUN"), ("nn-tl", "NOUN"), ("np$", "NOUN"), ("nns$-hl", "NOUN"), ("nr", "NOUN"),
    ("vbd", "VERB"), ("bedz", "VERB"), ("md*", "VERB"), ("hvz*", "VERB"), ("ber*-hl", "VERB"),
    ("ppss+ber", "PRON"), ("pp$$", "PRON"), ("wps", "PRON"), ("ex", "PRON"),
    ("at", "DET"), ("abn", "DET"), ("wdt", "DET"), ("in", "ADP"), ("cc", "CONJ"), ("cs", "CONJ"),
    ("jjt", "ADJ"), ("ap", "ADJ"), ("cd", "NUM"), ("od", "NUM"), ("rb", "ADV"), ("ql", "ADV"), ("*", "ADV"),
    ("*-hl", "ADV"), ("rp", "PRT"), ("to", "PRT"), ("uh", "X"), ("fw-in", "X"), ("fw-nn$", "X"), ("nil", "X"),
    ("``", "."), ("--", "."), ("(", "."),
])
def test_brown_tags_map_to_the_twelve(tag, universal):
    assert postags.from_brown(tag) == universal


def test_unknown_tags_are_none():
    assert postags.from_brown("zz") is None and postags.from_ud("NOUNS") is None
    assert {postags.from_ud(t) for t in ("PROPN", "AUX", "SCONJ", "CCONJ", "PART", "PUNCT", "SYM", "INTJ")} == \
        {"NOUN", "VERB", "CONJ", "PRT", ".", "X"}
    assert set(postags.BROWN.values()) | set(postags.UD.values()) == set(postags.UNIVERSAL)


def test_slash_tagged_reader(tmp_path):
    f = tmp_path / "ca01"
    f.write_text("\n\n\tThe/at 1/2/cd jury/nn-tl said/vbd ./.\n\n\tIt/pps was/bedz n't/*\n")
    sents = read_slash_tagged(f, postags.from_brown)
    assert [s.words for s in sents] == [("The", "1/2", "jury", "said", "."), ("It", "was", "n't")]
    assert sents[0].tags == ("DET", "NUM", "NOUN", "VERB", ".")
    assert sents[1].where.endswith("ca01:5")


@pytest.mark.parametrize("text, message", [
    ("The/at jury/nn\nsaid vbd\n", r"ca02:2: token 'said' is not word/tag"),
    ("The/at jury/zz\n", r"ca02:1: unknown tag 'zz'"),
    ("\n  \n", r"ca02: the file is empty"),
    ("/at\n", r"ca02:1: token '/at' is not word/tag"),
])
def test_slash_tagged_errors_name_line_and_reason(tmp_path, text, message):
    f = tmp_path / "ca02"
    f.write_text(text)
    with pytest.raises(PolyglotError, match=message):
        read_slash_tagged(f, postags.from_brown)


CONLLU = """# sent_id = 1
# text = Açıklayan sorular imkansız.
1\tAçık\taçık\tNOUN\tNN\t_\t2\tig\t_\tSpaceAfter=No
2\tla\t_\tVERB\tVB\t_\t3\tig\t_\tSpaceAfter=No
3\tyan\t_\tADJ\tVJ\t_\t4\trcmod\t_\t_
4\tsorular\tsoru\tNOUN\tNN\t_\t6\tnsubj\t_\t_
5\timkan\timkan\tNOUN\tNN\t_\t6\tig\t_\tSpaceAfter=No
6\tsız\t_\tVERB\tNOMP\t_\t0\troot\t_\tSpaceAfter=No
7\t.\t.\tPUNCT\t.\t_\t6\tp\t_\t_

# sent_id = 2
1-2\tkarirnya\t_\t_\t_\t_\t_\t_\t_\t_
1\tkarir\tkarir\tNOUN\t_\t_\t_\t_\t_\t_
2\tnya\tnya\tPRON\t_\t_\t_\t_\t_\t_
3\t(\t(\tPUNCT\t_\t_\t_\t_\t_\tSpaceAfter=No
4\tpat\tpat\tONOM\t_\t_\t_\t_\t_\tSpaceAfter=No
5\t)\t)\tPUNCT\t_\t_\t_\t_\t_\t_
"""


def test_conllu_joins_space_after_no_pieces_but_not_punctuation(tmp_path):
    f = tmp_path / "tr.conllu"
    f.write_text(CONLLU)
    joined = conllu_sentences(f, postags.from_ud, join_pieces=True)
    assert joined[0].words == ("Açıklayan", "sorular", "imkansız", ".")
    assert joined[0].tags == ("ADJ", "NOUN", "VERB", ".")  # a word takes its last piece's tag
    assert joined[1].words == ("karir", "nya", "(", "pat", ")")  # multiword range line skipped
    assert joined[1].tags == ("NOUN", "PRON", ".", "X", ".")
    plain = conllu_sentences(f, postags.from_ud)
    assert len(plain[0].words) == 7


@pytest.mark.parametrize("line, message", [
    ("1\tword\tword\tNOUN\t_\t_\t_\t_\t_", r"x.conllu:3: expected 10 tab-separated columns, found 9"),
    ("a\tword\tword\tNOUN\t_\t_\t_\t_\t_\t_", r"x.conllu:3: token id 'a' is not a number"),
    ("1\tword\tword\tNOUNY\t_\t_\t_\t_\t_\t_", r"x.conllu:3: unknown tag 'NOUNY'"),
])
def test_conllu_errors_name_line_and_reason(tmp_path, line, message):
    f = tmp_path / "x.conllu"
    f.write_text(f"# sent_id = 1\n# text = word\n{line}\n")
    with pytest.raises(PolyglotError, match=message):
        conllu_sentences(f, postags.from_ud)


def test_empty_conllu(tmp_path):
    (tmp_path / "e.conllu").write_text("# only a comment\n")
    with pytest.raises(PolyglotError, match="e.conllu: no sentence found"):
        read_conllu(tmp_path / "e.conllu")


def test_label_sets_are_checked_between_train_and_test():
    train = TaskData("pos", "train", "en", [{"words": ["a"], "labels": ["DET"]}], "brown")
    test = TaskData("pos", "test", "tr", [{"words": ["b", "c"], "labels": ["DET", "NOUN"]}], "imst")
    with pytest.raises(PolyglotError, match=r"label sets do not match.*\['NOUN'\].*never shows"):
        check_labels(postags.UNIVERSAL, train, test)
    odd = TaskData("pos", "test", "tr", [{"words": ["b"], "labels": ["PROPN"]}], "imst")
    with pytest.raises(PolyglotError, match=r"\['PROPN'\] outside the task's label set"):
        check_labels(postags.UNIVERSAL, train, odd)
    empty = TaskData("pos", "test", "id", [], "aksara")
    with pytest.raises(PolyglotError, match="holds no example"):
        check_labels(postags.UNIVERSAL, train, empty)


@pytest.mark.real
def test_real_pos_data():
    from polyglot_kd.tasks import get_task
    from polyglot_kd.tasks import pos

    assert len(pos.brown_sentences()) == 56418  # 57,340 less verbatim repeats
    assert len(pos.target_sentences("tr")) == 4851 and len(pos.target_sentences("id")) == 2030
    task = get_task("pos")
    train, dev = task.load("train", "en", "", 2000), task.load("dev", "en", "", 300)
    assert not {tuple(e["words"]) for e in train.examples} & {tuple(e["words"]) for e in dev.examples}
    tests = [task.load("test", lang, "", 500) for lang in ("tr", "id")]
    check_labels(task.labels, train, dev, *tests)
    assert train.labels() == set(postags.UNIVERSAL)
    with pytest.raises(PolyglotError, match="does not cover language 'pt'"):
        task.check_language("pt")
