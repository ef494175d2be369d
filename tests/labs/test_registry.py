from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from labs.info import Param
from labs.registry import (
    LESSON_PACK_ID,
    PRESET_NAMES,
    LabError,
    all_labs,
    get_lab,
    known_lab_ids,
)

ROOT = Path(__file__).resolve().parents[2]
LESSON_PACK = ROOT / "cards" / "packs" / "lesson4.toml"
EXPECTED_LABS = {
    "lr-find",
    "ulmfit-lm",
    "ulmfit-classifier",
    "discriminative-lr",
    "tabular",
    "contiguous-split",
    "collab",
    "cold-start",
    "tabular-time-series",
}


def test_the_nine_lesson_labs_are_registered() -> None:
    assert known_lab_ids() == EXPECTED_LABS


def test_importing_the_registry_loads_neither_torch_nor_pandas_nor_textual() -> None:
    code = "import sys, labs.registry; print(sorted(m for m in ('torch', 'pandas', 'textual') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("info", all_labs(), ids=lambda info: info.id)
def test_every_preset_resolves_to_valid_values(info) -> None:
    assert tuple(info.presets) == PRESET_NAMES
    for preset in PRESET_NAMES:
        values = info.resolve(preset)
        assert set(values) == {p.name for p in info.params}
    assert info.module == "labs." + info.id.replace("-", "_")
    assert info.steps and info.summary and info.title
    if info.question:
        assert len(info.question.choices) >= 2


def test_every_lesson_card_links_to_a_lab_that_lists_it() -> None:
    pack = tomllib.loads(LESSON_PACK.read_text(encoding="utf-8"))
    assert pack["pack"]["id"] == LESSON_PACK_ID
    card_ids = {card["id"] for card in pack["cards"]}
    for card in pack["cards"]:
        assert card.get("lab") in known_lab_ids(), card["id"]
        assert card["id"] in get_lab(card["lab"]).card_ids, card["id"]
    for info in all_labs():
        assert set(info.card_ids) <= card_ids, info.id


def test_params_parse_and_check_with_clear_messages() -> None:
    info = get_lab("tabular")
    assert info.parse_assignments(["lr=0.05", "epochs=2", "layers=50,20"]) == {
        "lr": 0.05,
        "epochs": 2,
        "layers": "50,20",
    }
    assert info.resolve("smoke", {"epochs": "2"})["epochs"] == 2
    with pytest.raises(LabError, match="epochs: 'two' is not a valid int"):
        info.parse_assignments(["epochs=two"])
    with pytest.raises(LabError, match="epochs: 0 is below the minimum 1"):
        info.parse_assignments(["epochs=0"])
    with pytest.raises(LabError, match="has no parameter 'epoch'"):
        info.parse_assignments(["epoch=3"])
    with pytest.raises(LabError, match="key=value"):
        info.parse_assignments(["epochs"])
    with pytest.raises(LabError, match="unknown preset 'huge'"):
        info.resolve("huge")
    assert Param("flag", "bool", True, "a yes/no parameter").parse("no") is False
    with pytest.raises(LabError, match="unknown lab 'nope'"):
        get_lab("nope")


def test_full_presets_name_datasets_the_catalog_knows() -> None:
    from engine.datasets.catalog import CATALOG

    named = {info.full_data for info in all_labs() if info.full_data}
    assert named and named <= set(CATALOG)
