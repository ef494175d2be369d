"""Tokenizer rules, decode, and Vocab."""

import numpy as np
import pytest

from engine.text.tokenizer import Tokenizer, decode, fix_html
from engine.text.vocab import Vocab

tok = Tokenizer()


def test_every_text_starts_with_bos_and_words_are_lowercased() -> None:
    assert tok("the film") == ["xxbos", "the", "film"]


def test_capitalised_and_all_caps_words_get_markers() -> None:
    assert tok("Great MOVIE") == ["xxbos", "xxmaj", "great", "xxup", "movie"]


def test_single_capital_letter_gets_no_marker() -> None:
    assert tok("I saw it") == ["xxbos", "i", "saw", "it"]


def test_repeated_characters_and_words() -> None:
    assert tok("wow!!!!") == ["xxbos", "wow", "xxrep", "4", "!"]
    assert tok("so so so good") == ["xxbos", "xxwrep", "3", "so", "good"]


def test_html_is_cleaned_up() -> None:
    tokens = tok("Nice.<br /><br />Very &quot;good&quot; &amp; fun")
    assert "<" not in "".join(tokens) and "br" not in tokens
    assert tokens[-4:] == ["good", '"', "&", "fun"]
    assert fix_html("a @-@ b") == "a-b"


def test_contractions_and_punctuation_are_split() -> None:
    assert tok("Don't stop, it's 3.5/10!") == [
        "xxbos",
        "xxmaj",
        "do",
        "n't",
        "stop",
        ",",
        "it",
        "'s",
        "3.5",
        "/",
        "10",
        "!",
    ]


def test_decode_gives_readable_text_back() -> None:
    text = "Hello there, I LOVED it. It's great!!!! Don't miss it (really)."
    assert decode(tok(text)) == text


def test_decode_drops_padding_and_expands_word_repeats() -> None:
    assert decode(["xxpad", "xxbos", "xxwrep", "3", "so", "good"]) == "so so so good"


def test_tokenizer_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="expects a str"):
        tok(None)  # type: ignore[arg-type]


def test_vocab_orders_by_frequency_and_applies_min_freq() -> None:
    docs = [["a", "a", "a", "b", "b", "b", "b", "c"]]
    vocab = Vocab.build(docs, min_freq=2)
    assert vocab.itos[:2] == ["xxunk", "xxpad"]
    assert vocab.itos[9:11] == ["b", "a"] and "c" not in vocab.stoi
    assert len(vocab) % 8 == 0
    assert vocab.numericalize(["b", "c", "zzz"]).tolist() == [9, 0, 0]
    assert vocab.textify(np.array([9, 10])) == ["b", "a"]


def test_vocab_respects_max_vocab() -> None:
    docs = [[f"w{i}" for i in range(50)] * 3]
    vocab = Vocab.build(docs, max_vocab=20, pad_to_multiple=1)
    assert len(vocab) == 20


def test_vocab_requires_specials_first_and_no_duplicates() -> None:
    with pytest.raises(ValueError, match="must start with"):
        Vocab(["a", "b"])
    with pytest.raises(ValueError, match="duplicate"):
        Vocab(["xxunk", "xxpad", "a", "a"])
