import wordfreq

from polyglot_kd.data import wordlists
from polyglot_kd.methods.trim.config import TrimConfig


def test_another_codes_wordfreq_list_serves_a_language_wordfreq_lacks():
    assert "wordfreq has no 'tl' list" in wordlists.check_wordlist("wordfreq", "tl")
    assert wordlists.check_wordlist("wordfreq:fil", "tl") is None
    words = dict(wordlists.load("wordfreq:fil", "tl", 50))
    assert "ang" in words and abs(sum(words.values()) - 1) < 1e-9
    assert "wordfreq has no 'xx' list" in wordlists.check_wordlist("wordfreq:xx", "tl")


def test_lists_whose_lookup_needs_a_segmenter_use_their_own_frequencies():
    # wordfreq looks Chinese words up through jieba, which is not installed here
    words = wordlists.load("wordfreq", "zh", 20)
    assert len(words) == 20 and words[0][0] == wordfreq.top_n_list("zh", 1)[0]
    assert all(a[1] >= b[1] for a, b in zip(words, words[1:]))


def test_rounding_matches_word_frequency_where_the_lookup_works():
    table = wordfreq.get_frequency_dict("pt")
    for word in wordfreq.top_n_list("pt", 30):
        assert wordlists._three_significant(table[word]) == wordfreq.word_frequency(word, "pt")


def test_config_names_the_accepted_word_list_forms():
    problems = TrimConfig(target_wordlists=["wordfreq", "wordfreq:fil", "hunspell:hunspell-sw", "wordfrq"]).check()
    assert len(problems) == 1 and "'wordfrq'" in problems[0] and "'wordfreq:<code>'" in problems[0]
