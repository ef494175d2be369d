"""Text learners end to end on tiny data: LM overfit, generation, encoder transfer, classifier, freezing."""

from pathlib import Path

import pytest
import torch

from engine.metrics import accuracy, perplexity
from engine.text.awd_lstm import AWDLSTMConfig
from engine.text.data import clas_data, lm_data
from engine.text.learner import language_model_learner, text_classifier_learner

TINY = AWDLSTMConfig(emb_sz=32, n_hid=64, n_layers=2)
CORPUS = [
    "the cat sat on the mat and the dog ran to the park .",
    "a bird sang in the tree while the sun was shining .",
    "my friend likes green tea with a slice of lemon .",
] * 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_lm(tmp_path: Path, texts: list[str] = CORPUS, **kwargs):
    torch.manual_seed(0)
    data = lm_data(texts, bs=4, bptt=12, valid_pct=0.2, seed=0, min_freq=1)
    return language_model_learner(
        data, config=TINY, drop_mult=0.0, path=tmp_path, mixed_precision=None, **kwargs
    )


def test_tiny_language_model_overfits_a_tiny_corpus(tmp_path: Path) -> None:
    learn = tiny_lm(tmp_path, metrics=[accuracy, perplexity])
    assert len(learn.layer_groups) == 3  # two LSTM layers + embedding/decoder
    before = learn.validate()
    learn.fit_one_cycle(20, 2e-2)
    after = learn.validate()
    assert after["valid_loss"] < 0.5 * before["valid_loss"]
    assert after["accuracy"] > 0.75
    assert after["perplexity"] == pytest.approx(torch.tensor(after["valid_loss"]).exp().item(), rel=1e-4)
    text = learn.predict("the cat sat on", n_words=6, temperature=0)
    assert text.startswith("the cat sat on the mat")


def test_generation_has_the_asked_length_and_never_unk(tmp_path: Path) -> None:
    learn = tiny_lm(tmp_path)
    unk = learn.vocab.unk_index
    with torch.no_grad():
        learn.model.decoder.linear.bias[unk] = 100.0  # the model now wants xxunk above all
    tokens = learn.generate("the cat zzzunknownzzz", n_words=25, temperature=1.0, seed=0)
    assert len(tokens) == 25 and "xxunk" not in tokens and "xxpad" not in tokens
    assert learn.generate("the cat", n_words=3, no_unk=False, temperature=0) == ["xxunk"] * 3
    assert learn.model.hidden is None  # generation leaves no state behind
    assert isinstance(learn.predict("the cat", n_words=4), str)


def test_encoder_round_trip_and_vocab_mismatch(tmp_path: Path) -> None:
    lm = tiny_lm(tmp_path)
    lm.fit(1, 1e-2)
    lm.save_encoder("enc")
    labels = ["a", "b", "c"] * 6
    data = clas_data(CORPUS, labels, vocab=lm.vocab, bs=4, seed=0)
    clas = text_classifier_learner(data, config=TINY, path=tmp_path, mixed_precision=None)
    clas.load_encoder("enc")
    for name, value in lm.model.encoder.state_dict().items():
        assert torch.equal(clas.model.encoder.encoder.state_dict()[name], value), name
    other = clas_data(CORPUS + ["brand new words here"] * 3, labels + ["a"] * 3, bs=4, min_freq=1)
    mismatched = text_classifier_learner(other, config=TINY, path=tmp_path, mixed_precision=None)
    with pytest.raises(ValueError, match=r"vocab=lm_data.vocab"):
        mismatched.load_encoder("enc")
    with pytest.raises(FileNotFoundError):
        clas.load_encoder("missing")


def test_pretrained_lm_loads_into_a_new_vocab(tmp_path: Path) -> None:
    lm = tiny_lm(tmp_path)
    lm.save_pretrained("general")
    target = lm_data(["zebra zebra met a cat ."] * 10 + CORPUS, bs=4, bptt=8, min_freq=1)
    fine = language_model_learner(target, config=TINY, path=tmp_path, mixed_precision=None)
    counts = fine.load_pretrained("general")
    assert counts["new"] == 2  # "met" and "zebra"
    old_emb, new_emb = lm.model.encoder.embedding.weight, fine.model.encoder.embedding.weight
    old_bias, new_bias = lm.model.decoder.linear.bias, fine.model.decoder.linear.bias
    moved = [
        t for t in lm.vocab.itos[9:] if t in target.vocab.stoi and target.vocab.stoi[t] != lm.vocab.stoi[t]
    ]
    assert moved  # the new tokens shift the shared ones, so this checks the mapping
    for token in moved:
        assert torch.equal(new_emb[target.vocab.stoi[token]], old_emb[lm.vocab.stoi[token]])
        assert torch.equal(new_bias[target.vocab.stoi[token]], old_bias[lm.vocab.stoi[token]])
    assert torch.allclose(new_emb[target.vocab.stoi["zebra"]], old_emb.mean(0))
    assert fine.model.decoder.linear.weight is fine.model.encoder.embedding.weight


def test_tiny_classifier_learns_a_separable_set_with_gradual_unfreezing(tmp_path: Path) -> None:
    torch.manual_seed(0)
    positive = ["what a great fun film", "great acting and great fun", "fun and great", "a great great film"]
    negative = ["what an awful dull film", "awful acting and dull", "dull and awful", "an awful awful film"]
    texts, labels = (positive + negative) * 6, (["pos"] * 4 + ["neg"] * 4) * 6
    data = clas_data(texts, labels, bs=8, valid_pct=0.25, seed=0, min_freq=1)
    learn = text_classifier_learner(data, config=TINY, drop_mult=0.1, metrics=[accuracy], path=tmp_path)
    assert len(learn.layer_groups) == 4  # embedding, two LSTM layers, head
    learn.freeze()
    assert not learn.model.encoder.encoder.embedding.weight.requires_grad
    learn.fit_one_cycle(2, 2e-2)
    learn.freeze_to(-2)
    learn.fit_one_cycle(2, slice(1e-2 / 2.6**4, 1e-2))
    learn.unfreeze()
    learn.fit_one_cycle(4, slice(1e-3, 1e-2))
    assert learn.validate()["accuracy"] == 1.0
    label, index, probs = learn.predict("what a great fun film")
    assert (label, index) == ("pos", 1) and probs.shape == (2,) and probs.sum().item() == pytest.approx(1.0)


def test_learners_reject_the_wrong_kind_of_data(tmp_path: Path) -> None:
    data = lm_data(CORPUS, bs=2, bptt=4, min_freq=1)
    with pytest.raises(ValueError, match="clas_data"):
        text_classifier_learner(data, config=TINY, path=tmp_path)


def test_language_model_trains_under_auto_mixed_precision(tmp_path: Path) -> None:
    from engine.callbacks.mixed_precision import cpu_supports_bf16

    torch.manual_seed(0)
    data = lm_data(CORPUS, bs=4, bptt=12, valid_pct=0.2, seed=0, min_freq=1)
    learn = language_model_learner(data, config=TINY, path=tmp_path, metrics=[accuracy])
    learn.fit(1, 1e-2)
    expected = torch.bfloat16 if cpu_supports_bf16() else torch.float32
    assert learn.pred.dtype == expected  # logits stay low precision; the loss does fp32 math itself
    assert torch.isfinite(torch.tensor(learn.recorder.rows[-1]["valid_loss"]))
