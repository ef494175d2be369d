"""Card media (an Anki import's images and sounds): shown as `[image: name]`, opened with `o`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.study_helpers import SIZE, fixed_clock, make_home, run_async, write_pack
from tests.tui.test_study_app import markdown_text
from tui.app import create_app
from tui.screens import study
from tui.widgets.media import media_files, show_media

PACK = """\
[pack]
id = "pictures"
title = "Pictures"
version = "1.0.0"
authors = ["tests"]
description = "A card with an image."
format = 1

[[cards]]
id = "chart"
front = "What does this show? ![loss.png](media/loss.png)"
back = "A loss curve. [sound: say.mp3](media/say.mp3)"

[[cards]]
id = "plain"
front = "No media"
back = "none"
"""


def test_images_show_as_text_and_resolve_inside_the_pack_only(tmp_path: Path) -> None:
    assert show_media("a ![x](<media/a b.png>) b") == "a \\[image: a b.png\\] b"
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a b.png").write_bytes(b"png")
    (tmp_path / "secret.png").write_bytes(b"png")
    pack_file = tmp_path / "media" / "pack.toml"  # a pack one folder down cannot reach ../secret.png
    assert media_files("![x](<a b.png>) ![y](../secret.png) ![z](missing.png)", pack_file) == [
        tmp_path / "media" / "a b.png"
    ]


@run_async
async def test_o_opens_the_cards_media_in_the_viewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "media").mkdir()
    for name in ("loss.png", "say.mp3"):
        (tmp_path / "media" / name).write_bytes(b"data")
    opened: list[Path] = []
    monkeypatch.setattr(study, "open_in_viewer", opened.append)
    app = create_app(
        make_home(tmp_path / "home"), pack_filter=str(write_pack(tmp_path, PACK)), clock=fixed_clock()
    )
    async with app.run_test(size=SIZE) as pilot:
        assert markdown_text(app, "#front") == "What does this show? \\[image: loss.png\\]"
        await pilot.press("o")
        assert opened == [tmp_path / "media" / "loss.png"]  # the back's sound only once revealed
        await pilot.press("space", "o")
        assert opened[1:] == [tmp_path / "media" / "loss.png", tmp_path / "media" / "say.mp3"]
        await pilot.press("3")
        assert not app.screen.check_action("open_media", ())
