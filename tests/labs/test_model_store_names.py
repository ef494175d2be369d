"""A model-store metadata file whose name is a path ("../../../x") no longer breaks `models list`, `show`
and `rm` for every model: names are checked when read; a bad entry is listed as damaged and removable."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from labs.model_store import ModelEntry
from tui.cli import main


def entry(name: str) -> dict:
    return asdict(ModelEntry(name, "language model", "tests", 10, {}, 5, 9.5, 0.3, 42))


def test_a_name_that_is_a_path_is_listed_as_damaged_and_removable(capsys, tmp_path: Path) -> None:
    home = tmp_path / "home"
    models = home / "cache" / "models"
    models.mkdir(parents=True)
    (models / "good.json").write_text(json.dumps(entry("good")))
    (models / "good.pth").write_bytes(b"weights")
    (models / "evil.json").write_text(json.dumps(entry("../../../x")))
    (models / "evil.pth").write_bytes(b"weights")
    cli = ("--home", str(home), "models")
    assert main([*cli, "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("good ") and "evil" in out and "damaged" in out and "cardlab models rm evil" in out
    assert main([*cli, "show", "good"]) == 0 and "good.pth" in capsys.readouterr().out
    assert main([*cli, "show", "../../../x"]) == 1
    assert main([*cli, "rm", "evil"]) == 0
    assert sorted(path.name for path in models.iterdir()) == ["good.json", "good.pth"]
    assert main([*cli, "rm", "good"]) == 0 and not list(models.iterdir())
