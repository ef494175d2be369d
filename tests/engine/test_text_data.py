"""LM stream loader, padded classifier loader, builders, readers and the generated corpora."""

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.datasets.text import (
    generate_general_corpus,
    generate_review_corpus,
    read_imdb_csv,
    read_imdb_folder,
    read_labelled_folders,
    read_wikitext,
)
from engine.text.data import LMDataLoader, SortedPadLoader, clas_data, lm_data, pad_chunked


def test_lm_loader_shapes_and_targets_shifted_by_one() -> None:
    docs = [np.arange(0, 50), np.arange(100, 160)]
    dl = LMDataLoader(docs, bs=4, bptt=10)
    batches = list(dl)
    assert len(batches) == len(dl) == 3  # (110 - 1) // 4 = 27 tokens per stream -> 10, 10, 7
    assert [tuple(x.shape) for x, _ in batches] == [(4, 10), (4, 10), (4, 7)]
    stream = torch.from_numpy(np.concatenate(docs))
    x = torch.cat([b[0] for b in batches], dim=1)
    y = torch.cat([b[1] for b in batches], dim=1)
    assert torch.equal(x.flatten(), stream[:108])  # each row continues across batches
    assert torch.equal(y.flatten(), stream[1:109])
    assert dl.tokens_per_epoch == 108


def test_lm_loader_shuffles_documents_each_epoch_deterministically() -> None:
    docs = [np.full(5, i) for i in range(20)]
    first = [next(iter(LMDataLoader(docs, bs=2, bptt=50, shuffle=True, seed=1)))[0] for _ in range(2)]
    assert torch.equal(first[0], first[1])  # same seed, same first epoch
    dl = LMDataLoader(docs, bs=2, bptt=50, shuffle=True, seed=1)
    epoch1, epoch2 = next(iter(dl))[0], next(iter(dl))[0]
    assert not torch.equal(epoch1, epoch2)
    assert sorted(epoch1.flatten().tolist()) != epoch1.flatten().tolist()


def test_lm_loader_rejects_a_corpus_too_small_for_bs() -> None:
    with pytest.raises(ValueError, match="too few"):
        LMDataLoader([np.arange(3)], bs=8, bptt=4)


def test_pad_chunked_puts_padding_first_in_whole_chunks() -> None:
    x = pad_chunked([np.array([5, 6, 7]), np.arange(10, 20)], pad_index=1, bptt=4)
    assert x.tolist()[0] == [1, 1, 1, 1, 5, 6, 7, 1, 1, 1]  # 7 pads: one chunk of 4 first, 3 after
    assert x.tolist()[1] == list(range(10, 20))


def test_sorted_pad_loader_batches_similar_lengths_and_keeps_labels() -> None:
    docs = [np.full(n, n + 10) for n in range(1, 41)]  # doc i has length i + 1 and label i % 2
    labels = np.arange(40) % 2
    dl = SortedPadLoader(docs, labels, bs=8, shuffle=True, seed=0)
    seen = []
    for x, y in dl:
        lengths = (x != 1).sum(1)
        assert lengths.max() - lengths.min() <= 7  # sorted within the pool
        values = x.max(1).values
        assert torch.equal(y, (values - 11) % 2)
        seen += values.tolist()
    assert sorted(seen) == list(range(11, 51))
    valid = SortedPadLoader(docs, labels, bs=8)
    assert next(iter(valid))[0].shape == (8, 40)  # longest first


def test_lm_data_builds_vocab_on_training_texts_and_splits() -> None:
    texts = [f"text number {i} is here." for i in range(50)]
    data = lm_data(texts, bs=4, bptt=8, valid_pct=0.2, seed=0, min_freq=1)
    assert data.is_lm and data.classes is None
    assert data.train.n_tokens + data.valid.n_tokens == sum(len(data.tokenizer(t)) for t in texts)
    assert "number" in data.vocab.stoi
    x, y = next(iter(data.train))
    assert x.shape == (4, 8) and x.dtype == torch.long


def test_clas_data_uses_given_vocab_and_sorted_classes() -> None:
    texts = ["good film", "bad film", "good good", "bad bad"] * 5
    labels = ["pos", "neg", "pos", "neg"] * 5
    lm = lm_data(texts, bs=2, bptt=4, min_freq=1)
    data = clas_data(texts, labels, vocab=lm.vocab, bs=4, is_valid=[i < 4 for i in range(20)])
    assert data.vocab is lm.vocab and data.classes == ["neg", "pos"]
    assert len(data.valid.docs) == 4 and len(data.train.docs) == 16
    with pytest.raises(ValueError, match="labels"):
        clas_data(texts, labels[:-1])
    with pytest.raises(ValueError, match="two classes"):
        clas_data(texts, ["pos"] * 20)


def test_generated_corpora_are_deterministic_and_balanced() -> None:
    assert generate_general_corpus(5, seed=3) == generate_general_corpus(5, seed=3)
    assert generate_general_corpus(5, seed=3) != generate_general_corpus(5, seed=4)
    texts, labels = generate_review_corpus(200, seed=1)
    assert (texts, labels) == generate_review_corpus(200, seed=1)
    assert labels.count("positive") == labels.count("negative") == 100
    assert any(" but " in t for t in texts) and any(" not " in t for t in texts)


def test_review_labels_follow_word_order() -> None:
    from engine.datasets.text import NEGATIVE, POSITIVE

    texts, labels = generate_review_corpus(300, seed=2)
    forms = {"plain": 0, "negated": 0, "contrast": 0}
    for text, label in zip(texts, labels):
        opinions = [s for s in text.rstrip(" .").split(" . ") if s.split()[-1] in POSITIVE + NEGATIVE]
        assert opinions, text
        for sentence in opinions:
            clause = sentence.split(" , but ")[-1]  # the clause after "but" decides
            polarity = 1 if clause.split()[-1] in POSITIVE else -1
            if " not " in clause:
                polarity = -polarity
            assert polarity == (1 if label == "positive" else -1), text
            forms["contrast" if " , but " in sentence else "negated" if " not " in clause else "plain"] += 1
    assert min(forms.values()) > 50


def test_read_imdb_csv_and_folders(tmp_path: Path) -> None:
    csv_file = tmp_path / "texts.csv"
    csv_file.write_text('label,text,is_valid\nnegative,"Bad, <br />really.",False\npositive,Fine,True\n')
    data = read_imdb_csv(tmp_path)
    assert data.texts == ["Bad, <br />really.", "Fine"] and data.is_valid == [False, True]
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            (folder / "1_1.txt").write_text(f"{split} {label}")
    imdb = read_imdb_folder(tmp_path)
    assert imdb.labels == ["neg", "pos", "neg", "pos"] and imdb.is_valid == [False, False, True, True]
    assert read_labelled_folders(tmp_path / "aclImdb" / "train").texts == ["train neg", "train pos"]


def test_read_wikitext_splits_articles(tmp_path: Path) -> None:
    file = tmp_path / "wiki.valid.tokens"
    file.write_text(
        " \n = First = \n \n Some text @-@ here . \n \n = = Section = = \n More . \n = Second = \n Other .\n"
    )
    articles = read_wikitext(file)
    assert len(articles) == 2 and articles[0].startswith("= First =") and "Section" in articles[0]
