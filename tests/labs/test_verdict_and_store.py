"""The noise helpers and the model store (round trip, atomic, torch-free listing); the verdict rule itself is
tested in test_verdict_rule.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from labs.errors import LabError
from labs.model_store import ModelEntry, ModelNotFound, ModelStore, sized_name
from labs.verdict import paired_noise, standard_error


def test_noise_is_the_standard_error_of_what_was_measured() -> None:
    assert standard_error([1.0]) == math.inf
    assert standard_error([1.0, 3.0]) == pytest.approx(1.0)  # std sqrt(2) / sqrt(2)
    same = [1.0, 0.0, 1.0, 1.0]
    assert paired_noise(same, same) == 0.0  # the same predictions: no noise in their difference
    assert paired_noise([1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]) > 0
    with pytest.raises(ValueError):
        paired_noise([1.0], [1.0, 0.0])


def entry(name: str) -> ModelEntry:
    return ModelEntry(
        name=name,
        kind="language model",
        corpus="10 stories",
        tokens_seen=100,
        config={"emb_sz": 4, "n_hid": 8, "n_layers": 1},
        vocab_size=16,
        valid_perplexity=3.5,
        valid_accuracy=0.5,
        seed=0,
    )


def test_store_round_trip_with_real_weights(tmp_path: Path) -> None:
    import torch

    from engine.utils import save_atomic

    store = ModelStore(tmp_path / "models")
    weights = {"model": {"w": torch.arange(3.0)}, "vocab": ["xxunk", "xxpad"]}
    save_atomic(weights, store.weights_path("tiny"))
    store.record(entry("tiny"))
    assert [e.name for e in store.list()] == ["tiny"]
    got = store.get("tiny")
    assert got.valid_perplexity == 3.5 and got.cardlab_version and got.created
    loaded = torch.load(store.weights_path("tiny"), weights_only=True)
    assert torch.equal(loaded["model"]["w"], torch.arange(3.0))
    assert not list((tmp_path / "models").glob(".*tmp"))  # no temporary file left behind
    store.remove("tiny")
    assert store.list() == [] and not store.weights_path("tiny").exists()


def test_an_entry_without_weights_or_metadata_is_not_listed(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with pytest.raises(FileNotFoundError):
        store.record(entry("ghost"))  # weights first, then the metadata that publishes them
    store.weights_path("half").write_bytes(b"x")  # a pretraining that stopped before recording
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert store.list() == []


def test_unknown_names_get_the_list_and_a_did_you_mean(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    store.weights_path("general-lm").write_bytes(b"x")
    store.record(entry("general-lm"))
    with pytest.raises(ModelNotFound, match="did you mean 'general-lm'"):
        store.get("general-ln")
    with pytest.raises(LabError):
        store.weights_path("../escape")


def test_listing_the_store_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, labs.model_store as m; m.ModelStore('.').list(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sized_names_keep_one_entry_per_model_size() -> None:
    default = {"emb_sz": 64, "n_hid": 192, "n_layers": 2}
    assert sized_name("general-lm", default, default) == "general-lm"
    assert (
        sized_name("general-lm", {"emb_sz": 16, "n_hid": 32, "n_layers": 1}, default) == "general-lm-16x32x1"
    )


def test_models_cli_pretrains_lists_shows_and_removes(tmp_path: Path) -> None:
    from tui.cli import main

    home = ["--home", str(tmp_path)]
    sizes = ["--set", "emb_sz=8", "--set", "n_hid=16", "--set", "n_layers=1"]
    recipe = ["--set", "pretrain_docs=30", "--set", "pretrain_epochs=1"]
    assert main([*home, "models", "pretrain", "--name", "tiny", *sizes, *recipe]) == 0
    assert main([*home, "models", "list"]) == 0
    assert main([*home, "models", "show", "tiny"]) == 0
    assert main([*home, "models", "show", "tinyy"]) == 1
    assert main([*home, "models", "rm", "tiny"]) == 0
    assert ModelStore.for_home(type("H", (), {"cache_dir": tmp_path / "cache"})()).list() == []
