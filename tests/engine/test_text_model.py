"""AWD-LSTM pieces: dropouts, weight dropout, hidden state, chunked encoder and pooling, layer groups."""

import numpy as np
import pytest
import torch

from engine.text.awd_lstm import (
    AWDLSTMClassifier,
    AWDLSTMConfig,
    AWDLSTMLanguageModel,
    EmbeddingDropout,
    RNNDropout,
    WeightDropout,
    masked_concat_pool,
)
from engine.text.data import pad_chunked
from engine.text.learner import classifier_splitter, lm_splitter

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_rnn_dropout_uses_one_mask_across_time_and_only_in_training() -> None:
    torch.manual_seed(0)
    dropout = RNNDropout(0.5)
    x = torch.ones(3, 7, 5)
    out = dropout(x)
    assert out.shape == x.shape
    assert torch.equal(out, out[:, :1].expand_as(out))  # same mask at every time step
    assert set(out.unique().tolist()) <= {0.0, 2.0} and (out == 0).any()
    dropout.eval()
    assert torch.equal(dropout(x), x)


def test_embedding_dropout_drops_whole_words() -> None:
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(50, 4)
    dropout = EmbeddingDropout(embed_p=0.5)
    words = torch.arange(50).repeat(2, 1)
    out = dropout(embedding, words)
    zero_rows = (out[0] == 0).all(1)
    assert zero_rows.any() and not zero_rows.all()
    assert torch.equal(zero_rows, (out[1] == 0).all(1))  # the same word is dropped everywhere
    dropout.eval()
    assert torch.equal(dropout(embedding, words), embedding(words))


def test_weight_dropout_changes_hidden_weights_only_in_training() -> None:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 6, batch_first=True)
    wrapped = WeightDropout(lstm, weight_p=0.9)
    x = torch.randn(2, 5, 4)
    wrapped.eval()
    expected, _ = lstm(x)
    assert torch.allclose(wrapped(x)[0], expected)
    wrapped.train()
    dropped, _ = wrapped(x)
    assert not torch.allclose(dropped, expected)
    dropped.sum().backward()
    assert lstm.weight_hh_l0.grad is not None and (lstm.weight_hh_l0.grad == 0).any()  # dropped entries
    assert (lstm.weight_ih_l0.grad != 0).all()  # input weights are never dropped
    assert [n for n, _ in wrapped.named_parameters()] == [f"module.{n}" for n, _ in lstm.named_parameters()]


def test_language_model_output_shape_and_hidden_carry_and_reset() -> None:
    torch.manual_seed(0)
    model = AWDLSTMLanguageModel(40, AWDLSTMConfig.tiny()).eval()
    x = torch.randint(2, 40, (3, 6))
    first = model(x)
    assert first.shape == (3, 6, 40) and model.hidden is not None
    carried = model(x)
    assert not torch.allclose(first, carried)  # the state from the previous batch is used
    model.reset()
    assert model.hidden is None and torch.allclose(model(x), first)
    assert not model.hidden[0][0].requires_grad  # detached between batches


def test_decoder_is_tied_to_the_embedding_and_saved_once() -> None:
    model = AWDLSTMLanguageModel(40, AWDLSTMConfig.tiny())
    assert model.decoder.linear.weight is model.encoder.embedding.weight
    embedding_keys = [k for k, v in model.state_dict().items() if v.shape == (40, 16)]
    assert embedding_keys == ["encoder.embedding.weight", "decoder.linear.weight"]


def test_config_presets_and_drop_mult() -> None:
    lesson = AWDLSTMConfig.lesson()
    assert (lesson.emb_sz, lesson.n_hid, lesson.n_layers) == (400, 1152, 3)
    scaled = lesson.scaled(0.5)
    assert scaled.weight_p == pytest.approx(0.1) and scaled.emb_sz == 400
    assert lesson.for_classifier().weight_p == 0.5
    with pytest.raises(ValueError, match="weight_p"):
        AWDLSTMConfig(weight_p=1.0)


def test_masked_concat_pool_ignores_padding() -> None:
    output = torch.tensor([[[9.0], [1.0], [3.0], [9.0]]])
    pad = torch.tensor([[True, False, False, True]])
    assert masked_concat_pool(output, pad).tolist() == [[3.0, 3.0, 2.0]]  # last, max, mean of [1, 3]


def test_classifier_output_does_not_change_with_extra_padding() -> None:
    torch.manual_seed(0)
    model = AWDLSTMClassifier(30, 2, AWDLSTMConfig.tiny(), bptt=4, max_len=40).eval()
    doc = np.array([2, 5, 7, 9, 11, 3, 4])
    alone = model(pad_chunked([doc], bptt=4))
    for longer in (10, 13, 21):
        batch = pad_chunked([doc, np.arange(2, 2 + longer) % 30], bptt=4)
        assert batch.shape[1] == longer
        assert torch.allclose(model(batch)[0], alone[0], atol=1e-5)


def test_layer_groups_for_freeze_to() -> None:
    config = AWDLSTMConfig(emb_sz=8, n_hid=12, n_layers=3)
    lm = AWDLSTMLanguageModel(20, config)
    groups = lm_splitter(lm)
    assert len(groups) == 4
    assert lm.encoder.embedding.weight in groups[-1]
    assert sum(p.numel() for g in groups for p in g) == sum(p.numel() for p in lm.parameters())
    clas = AWDLSTMClassifier(20, 3, config)
    groups = classifier_splitter(clas)
    assert len(groups) == 5
    assert groups[0] == [clas.encoder.encoder.embedding.weight]
    assert sum(len(g) for g in groups) == len(list(clas.parameters()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_flat_cross_entropy_matches_torch_in_value_and_gradient(dtype: torch.dtype) -> None:
    from engine.text.loss import flat_cross_entropy

    torch.manual_seed(0)
    logits = (torch.randn(3, 700, 50) * 3).to(dtype).requires_grad_()  # 2100 rows: several chunks
    target = torch.randint(0, 50, (3, 700))
    loss = flat_cross_entropy(logits, target)
    loss.backward()
    reference = logits.detach().float().requires_grad_()
    expected = torch.nn.functional.cross_entropy(reference.view(-1, 50), target.view(-1))
    expected.backward()
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    tolerance = 1e-7 if dtype == torch.float32 else 1e-5
    assert torch.allclose(logits.grad.float(), reference.grad, atol=tolerance)


def test_batchnorm_running_stats_start_from_the_first_batch() -> None:
    from engine.text.awd_lstm import WarmStartBatchNorm1d

    norm = WarmStartBatchNorm1d(3)
    first = torch.randn(16, 3) * 1e-3 + 5.0
    norm(first)
    assert torch.allclose(norm.running_mean, first.mean(0))
    assert torch.allclose(norm.running_var, first.var(0))
    second = torch.randn(16, 3)
    norm(second)  # from then on the usual momentum of 0.1
    assert torch.allclose(norm.running_mean, 0.9 * first.mean(0) + 0.1 * second.mean(0), atol=1e-6)
    assert norm.momentum == 0.1


def test_flat_cross_entropy_is_exact_for_a_target_whose_probability_underflows() -> None:
    from engine.text.loss import flat_cross_entropy

    logits = torch.zeros(4, 30)
    logits[:, 0] = 150.0  # exp(-150) is below float32's range: the softmax gives the other classes 0
    logits.requires_grad_()
    target = torch.tensor([0, 5, 0, 7])
    loss = flat_cross_entropy(logits, target)
    loss.backward()
    reference = logits.detach().clone().requires_grad_()
    expected = torch.nn.functional.cross_entropy(reference, target)
    expected.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(expected.item(), rel=1e-6)  # 75, not inf
    assert torch.allclose(logits.grad, reference.grad, atol=1e-7)


@pytest.mark.parametrize("bias", [True, False])
def test_biased_logits_equal_the_linear_layer_in_value_and_gradients(bias: bool) -> None:
    from engine.text.awd_lstm import biased_logits

    torch.manual_seed(0)
    linear = torch.nn.Linear(6, 11, bias=bias)
    if bias:
        torch.nn.init.normal_(linear.bias)
    inputs = torch.randn(3, 5, 6).transpose(0, 1).requires_grad_()  # not contiguous, as the LSTM's output
    folded = biased_logits(linear, inputs)
    folded.square().sum().backward()
    grads = [p.grad.clone() for p in (inputs, *linear.parameters())]
    for p in (inputs, *linear.parameters()):
        p.grad = None
    expected = linear(inputs)
    expected.square().sum().backward()
    assert folded.shape == expected.shape == (5, 3, 11)
    assert torch.allclose(folded, expected, atol=1e-6)
    for got, want in zip(grads, (inputs.grad, *(p.grad for p in linear.parameters()))):
        assert torch.allclose(got, want, atol=1e-5)
