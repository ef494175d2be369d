"""fastai-layout checkpoints (built here from our own tiny model, fastai is never imported) read into the engine."""

import os
import pickle
import pickletools
import sys
import types
from pathlib import Path

import pytest
import torch

from engine.datasets.fetch import VERIFIED_MARKER
from engine.text.awd_lstm import AWDLSTMConfig, AWDLSTMLanguageModel
from engine.text.data import lm_data
from engine.text.fastai_weights import FastaiCheckpointError, load_fastai_lm
from engine.text.learner import language_model_learner

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZES = AWDLSTMConfig(emb_sz=8, n_hid=12, n_layers=3)
# fastai 1's special-token order (the published vocab's): ours puts xxmaj last, so indices differ.
FASTAI_SPECIALS = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxmaj", "xxup", "xxrep", "xxwrep"]
ITOS = FASTAI_SPECIALS + ["the", "cat", "sat", "on", "mat", "dog", ".", "a"]


def source_model(config: AWDLSTMConfig = SIZES, vocab_size: int = len(ITOS)) -> AWDLSTMLanguageModel:
    torch.manual_seed(0)
    model = AWDLSTMLanguageModel(vocab_size, config)
    with torch.no_grad():
        model.decoder.linear.bias.normal_()  # zero at init: random, so the bias mapping is checked too
    return model.eval()


def fastai_state(model: AWDLSTMLanguageModel, old_copy: bool = False) -> dict[str, torch.Tensor]:
    """Our weights under the keys fastai's get_language_model(AWD_LSTM, ...) saves."""
    ours = model.state_dict()
    embedding = ours["encoder.embedding.weight"]
    state = {"0.encoder.weight": embedding, "0.encoder_dp.emb.weight": embedding.clone()}
    for i in range(model.config.n_layers):
        prefix = f"encoder.rnns.{i}.module."
        state[f"0.rnns.{i}.weight_hh_l0_raw"] = ours[prefix + "weight_hh_l0"]
        if old_copy:  # older fastai also saved the (dropped) working copy; it must be ignored
            state[f"0.rnns.{i}.module.weight_hh_l0"] = torch.zeros_like(ours[prefix + "weight_hh_l0"])
        for name in ("weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):
            state[f"0.rnns.{i}.module.{name}"] = ours[prefix + name]
    state["1.decoder.weight"] = ours["decoder.linear.weight"]
    state["1.decoder.bias"] = ours["decoder.linear.bias"]
    return state


def save_checkpoint(folder: Path, state: dict, itos: object = ITOS, wrapped: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"model": state, "opt": {"state": {}, "param_groups": [{"lr": 1e-3}]}} if wrapped else state,
        folder / "lstm_fwd.pth",
    )
    (folder / "itos_wt103.pkl").write_bytes(pickle.dumps(itos))
    return folder


def logits(model: AWDLSTMLanguageModel, ids: torch.Tensor) -> torch.Tensor:
    model.eval()
    model.reset()
    with torch.no_grad():
        return model(ids)


@pytest.mark.parametrize("wrapped", [False, True], ids=["plain", "wrapped"])
@pytest.mark.parametrize("old_copy", [False, True], ids=["current", "old-extra-weight_hh"])
def test_fastai_layout_loads_with_the_source_logits(tmp_path: Path, wrapped: bool, old_copy: bool) -> None:
    source = source_model()
    folder = save_checkpoint(tmp_path / "wt103-fwd", fastai_state(source, old_copy), wrapped=wrapped)
    model, itos = load_fastai_lm(folder)
    assert itos == ITOS
    assert (model.config.emb_sz, model.config.n_hid, model.config.n_layers) == (8, 12, 3)
    assert model.decoder.linear.weight is model.encoder.embedding.weight
    ids = torch.randint(0, len(ITOS), (3, 7), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logits(model, ids), logits(source, ids), rtol=1e-6, atol=1e-7)


def fastcore_like(monkeypatch: pytest.MonkeyPatch, name: str) -> object:
    """An object that pickles as `fastcore.foundation.<name>`, as fastai 2's optimizer hypers do (`L`)."""
    package, module = types.ModuleType("fastcore"), types.ModuleType("fastcore.foundation")
    cls = type(name, (), {"__module__": "fastcore.foundation"})
    setattr(module, name, cls)
    package.foundation = module
    monkeypatch.setitem(sys.modules, "fastcore", package)
    monkeypatch.setitem(sys.modules, "fastcore.foundation", module)
    instance = cls()
    instance.items = [{"lr": 1e-3, "wd": 0.01}]
    return instance


@pytest.mark.parametrize(("name", "readable"), [("L", True), ("Other", False)])
def test_fastai2_optimizer_state_is_skipped_but_nothing_else_is_let_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, readable: bool
) -> None:
    source = source_model()
    folder = tmp_path / "ckpt"
    with monkeypatch.context() as patch:  # the fake fastcore exists only while saving
        opt = {"state": [{}], "hypers": fastcore_like(patch, name)}
        save_checkpoint(folder, {"model": fastai_state(source), "opt": opt})
    assert "fastcore" not in sys.modules  # reading must not need it
    if not readable:
        with pytest.raises(
            FastaiCheckpointError, match=rf"not a readable weights file.*fastcore.foundation.{name}"
        ):
            load_fastai_lm(folder)
        return
    model, _ = load_fastai_lm(folder)
    ids = torch.tensor([[2, 9, 10, 11]])
    torch.testing.assert_close(logits(model, ids), logits(source, ids), rtol=1e-6, atol=1e-7)


def test_config_must_match_the_checkpoint(tmp_path: Path) -> None:
    folder = save_checkpoint(tmp_path / "ckpt", fastai_state(source_model()))
    model, _ = load_fastai_lm(folder, config=SIZES)
    assert model.config == SIZES
    with pytest.raises(
        FastaiCheckpointError, match=r"emb_sz 8 / n_hid 12 / 3 layers.*emb_sz 400 / n_hid 1152"
    ):
        load_fastai_lm(folder, config=AWDLSTMConfig.lesson())


def crafted_pickle(marker: Path, kind: str) -> bytes:
    """A pickle that would create `marker` if any unpickler executed it."""

    class Payload:
        def __reduce__(self):
            if kind == "open":
                return (open, (str(marker), "w"))
            return (os.system, (f"touch '{marker}'",))

    payload = pickle.dumps(["xxunk", "xxpad", Payload()])
    assert any(op.name in {"GLOBAL", "STACK_GLOBAL"} for op, _, _ in pickletools.genops(payload))
    return payload


@pytest.mark.parametrize("kind", ["open", "os.system"])
def test_a_crafted_vocab_pickle_is_refused_and_runs_nothing(tmp_path: Path, kind: str) -> None:
    folder = save_checkpoint(tmp_path / "ckpt", fastai_state(source_model()))
    marker = tmp_path / "pwned"
    (folder / "itos_wt103.pkl").write_bytes(crafted_pickle(marker, kind))
    with pytest.raises(FastaiCheckpointError, match=r"itos_wt103.pkl: not a plain pickled list.*no classes"):
        load_fastai_lm(folder)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("itos", "message"),
    [
        (["xxunk", 3], "every token must be a str"),
        ({"xxunk": 0}, "expected a non-empty list"),
        ([], "non-empty"),
    ],
)
def test_the_vocab_must_be_a_list_of_str(tmp_path: Path, itos: object, message: str) -> None:
    folder = save_checkpoint(tmp_path / "ckpt", fastai_state(source_model()), itos=itos)
    with pytest.raises(FastaiCheckpointError, match=message):
        load_fastai_lm(folder)


def test_missing_keys_wrong_shapes_and_vocab_length_are_named(tmp_path: Path) -> None:
    good = fastai_state(source_model())
    missing = {k: v for k, v in good.items() if k != "0.rnns.1.module.bias_hh_l0"}
    with pytest.raises(FastaiCheckpointError, match=r"missing keys \['0.rnns.1.module.bias_hh_l0'\]"):
        load_fastai_lm(save_checkpoint(tmp_path / "missing", missing))
    bad_shape = {**good, "0.rnns.2.module.weight_ih_l0": torch.zeros(32, 5)}
    with pytest.raises(
        FastaiCheckpointError, match=r"0.rnns.2.module.weight_ih_l0 is \(32, 5\), expected \(32, 12\)"
    ):
        load_fastai_lm(save_checkpoint(tmp_path / "shape", bad_shape))
    with pytest.raises(
        FastaiCheckpointError, match=r"vocabulary has 16 tokens but the embedding has 17 rows"
    ):
        load_fastai_lm(save_checkpoint(tmp_path / "vocab", good, itos=ITOS[:-1]))
    bidirectional = {**good, "0.rnns.0.module.weight_ih_l0_reverse": torch.zeros(1)}
    with pytest.raises(FastaiCheckpointError, match=r"unexpected keys"):
        load_fastai_lm(save_checkpoint(tmp_path / "bidir", bidirectional))


def test_the_folder_must_hold_one_pth_and_one_pkl(tmp_path: Path) -> None:
    folder = save_checkpoint(tmp_path / "ckpt", fastai_state(source_model()))
    (folder / "itos_other.pkl").write_bytes(pickle.dumps(ITOS))
    with pytest.raises(FastaiCheckpointError, match=r"exactly one .pkl.*itos_other.pkl, itos_wt103.pkl"):
        load_fastai_lm(folder)
    (folder / "lstm_fwd.pth").unlink()
    with pytest.raises(FastaiCheckpointError, match=r"exactly one .pth file \(the weights\); found none"):
        load_fastai_lm(folder)
    (folder / "lstm_fwd.pth").write_bytes(b"not a torch file")
    with pytest.raises(FastaiCheckpointError, match=r"lstm_fwd.pth: not a readable weights file"):
        load_fastai_lm(folder)


TARGET = ["the zebra sat on a mat .", "a cat met the dog ."] * 6


def target_learner(tmp_path: Path, **kwargs):
    data = lm_data(TARGET, bs=2, bptt=6, min_freq=1, seed=0)
    return language_model_learner(data, config=SIZES, path=tmp_path, mixed_precision=None, **kwargs)


def assert_mapped(source: AWDLSTMLanguageModel, learn) -> None:
    old, new = source.encoder.embedding.weight, learn.model.encoder.embedding.weight
    stoi = learn.vocab.stoi
    for token in ("xxmaj", "the", "sat", "mat", "dog", "."):
        assert torch.equal(new[stoi[token]], old[ITOS.index(token)]), token
        assert torch.equal(
            learn.model.decoder.linear.bias[stoi[token]], source.decoder.linear.bias[ITOS.index(token)]
        )
    assert stoi["xxmaj"] != ITOS.index("xxmaj")  # a shared special at another index still maps
    assert torch.allclose(new[stoi["zebra"]], old.mean(0))
    assert learn.model.decoder.linear.weight is learn.model.encoder.embedding.weight


def test_language_model_learner_maps_a_fastai_folder_onto_its_vocab(tmp_path: Path) -> None:
    source = source_model()
    folder = save_checkpoint(tmp_path / "fastai", fastai_state(source, old_copy=True), wrapped=True)
    learn = target_learner(tmp_path, pretrained=folder)
    assert_mapped(source, learn)
    assert learn.load_pretrained(folder) == {"shared": len(set(ITOS) & set(learn.vocab.itos)), "new": 2}


def test_the_catalog_name_reads_the_datasets_cache(tmp_path: Path) -> None:
    source = source_model()
    cache = tmp_path / "cache" / "datasets"
    folder = save_checkpoint(cache / "wt103-fwd", fastai_state(source))
    (folder / VERIFIED_MARKER).write_text("{}")
    assert_mapped(source, target_learner(tmp_path, pretrained="wt103-fwd", models_home=cache))
    with pytest.raises(FileNotFoundError, match=r"catalog name: pass models_home="):
        target_learner(tmp_path, pretrained="wt103-fwd")


def test_a_config_of_another_size_is_refused_naming_both(tmp_path: Path) -> None:
    folder = save_checkpoint(tmp_path / "fastai", fastai_state(source_model()))
    data = lm_data(TARGET, bs=2, bptt=6, min_freq=1, seed=0)
    with pytest.raises(
        ValueError, match=r"emb_sz 8 / n_hid 12 / 3 layers.*config is emb_sz 16 / n_hid 32 / 2"
    ):
        language_model_learner(data, config=AWDLSTMConfig.tiny(), pretrained=folder, path=tmp_path)
