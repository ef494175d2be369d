"""The home screen's pack table: a long title is cut to keep every count on screen, clashing titles show ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable

from tests.tui.study_helpers import SAMPLE_PACK, fixed_clock, make_home, run_async, screen_text
from tests.tui.test_study_snapshots import user_packs_only
from tui.app import create_app
from tui.screens.home import pack_names

LONG_TITLE = "A very long pack title that goes on and on about deep learning for coders, lesson four"


def pack(pack_id: str, title: str) -> str:
    return SAMPLE_PACK.replace('id = "sample"', f'id = "{pack_id}"').replace(
        'title = "Sample pack"', f'title = "{title}"'
    )


def names_in_table(table: DataTable) -> list[str]:
    return [str(table.get_row_at(index)[0]) for index in range(table.row_count)]


def test_ids_are_shown_only_where_titles_clash() -> None:
    assert pack_names([("a", "Lesson 4"), ("b", "lesson 4"), ("c", "Lesson 5")]) == [
        "Lesson 4 (a)",
        "lesson 4 (b)",
        "Lesson 5",
    ]


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
@run_async
async def test_a_long_title_is_cut_so_every_count_column_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    monkeypatch.setattr("tui.app.discover_packs", user_packs_only)
    home = make_home(
        tmp_path / "home",
        {
            "a.toml": pack("long", LONG_TITLE),
            "b.toml": pack("l4", "Lesson 4"),
            "c.toml": pack("l4b", "Lesson 4"),
        },
    )
    app = create_app(home, clock=fixed_clock())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        text = screen_text(app.export_screenshot())
        for heading in ("Pack", "New", "Learning", "Due", "Suspended", "Buried", "Cards"):
            assert heading in text, (heading, text)
        table = app.screen.query_one("#packs", DataTable)
        long, first, second = names_in_table(table)
        assert long.endswith("…") and LONG_TITLE.startswith(long[:-1]) and long[:-1] in text
        assert (first, second) == ("Lesson 4 (l4)", "Lesson 4 (l4b)")
        assert table.virtual_size.width <= table.size.width, "the table fits: no column is scrolled off"
        row = table.get_row_at(0)
        assert all(isinstance(cell, Text) for cell in row)
