"""Hostile text (tests.faults.HOSTILE: escapes, BEL, markup, `<unk>`, zero-width, very long lines) through
every renderer: the study screen, the lab screen, headless `lab run` (a real lab reading a hostile
--data file, and a lab printing every hostile string), `lab show` and `stats`. Nothing reaches the
terminal as a control character, and the visible text shows as written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from labs import registry
from labs.runs import list_runs
from tests.faults import HOSTILE
from tests.labs.fake_labs_hostile import HOSTILE_LAB, hostile_outputs
from tests.tui.study_helpers import HOSTILE_PACK, fixed_clock, make_home, run_async, screen_text, write_pack
from tui.app import create_app
from tui.cli import main
from tui.screens.lab import LabScreen
from tui.widgets.safe_text import neutralize_controls

CONTROLS = ("\x1b", "\x07", "\x9b")
INVISIBLE = "\u200b\u200d\u202e\u202c"
VISIBLE = [
    "[bold]not bold[/bold]",
    "[link=https://x]no link[/link]",
    "<unk> and <pad>",
    "List<int>",
    "<div>x</div>",
]


def assert_no_controls(text: str) -> None:
    found = [repr(char) for char in CONTROLS if char in text]
    assert not found, f"control characters reached the terminal: {found}"


@pytest.fixture
def hostile_lab() -> Iterator[None]:
    with registry.extra_labs(HOSTILE_LAB):
        yield


def test_lab_run_with_hostile_data_and_lab_show_print_it_literally(
    hostile_lab: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    data = tmp_path / "reviews.csv"
    data.write_text(
        "label,text\npositive,a review \x1b]0;RETITLED\x07\x1b[2J [red]red[/red]\n", encoding="utf-8"
    )
    run = ["lab", "run", HOSTILE_LAB.id, "--data", str(data), "--set", f"sentence={HOSTILE[0]}"]
    assert main(["--home", home, *run]) == 0
    shown_by_run = capsys.readouterr().out
    (record,) = list_runs(tmp_path / "home" / "data" / "runs")
    assert main(["--home", home, "lab", "show", record.run_id]) == 0
    shown_by_show = capsys.readouterr().out
    for out in (shown_by_run, shown_by_show):
        assert_no_controls(out)
        flat = " ".join(out.split())
        for text in [*VISIBLE, "a review \\x1b]0;RETITLED\\x07\\x1b[2J [red]red[/red]"]:
            assert text in flat, text
        assert "\\x1b]0;PWNED\\x07\\x1b[2J" in out and "\\x9b2J" in out and "\\u202eevil" in out
        assert "x" * 3000 in "".join(out.split())  # the long line, wrapped but whole


@run_async
async def test_the_lab_screen_shows_hostile_output_literally(hostile_lab: None, tmp_path: Path) -> None:
    app = create_app(make_home(tmp_path / "home"), clock=fixed_clock())
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        app.action_open_lab(HOSTILE_LAB.id, None)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LabScreen)
        for event in hostile_outputs([]):  # what the lab emits, shown without running it
            screen._show(event)
        await pilot.pause(0.2)
        logged = "\n".join(str(line.text) for line in screen.query_one("#outputs").lines)
        svg = app.export_screenshot()
    assert_no_controls(logged + svg)
    flat = " ".join(logged.split())
    for text in ["table ␛]0;PWNED␇␛[2J", "[bold]not bold[/bold]", "<unk> and <pad>"]:
        assert text in flat, text
    assert "x" * 3000 in squeezed(logged)  # the long line, folded but whole


@run_async
async def test_the_study_screen_shows_hostile_card_text_literally(tmp_path: Path) -> None:
    cards = "".join(
        f'[[cards]]\nid = "c{i}"\nfront = {json.dumps(text)}\nback = {json.dumps(text)}\n'
        for i, text in enumerate(HOSTILE)  # json.dumps: a TOML basic string, the same escapes here
    )
    pack = write_pack(tmp_path, HOSTILE_PACK.split("[[cards]]")[0] + cards)
    app = create_app(make_home(tmp_path / "home"), pack_filter=str(pack), clock=fixed_clock())
    screens = []
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in HOSTILE:
            await pilot.press("space")
            await pilot.pause()
            screens.append((app.screen.card.front, app.export_screenshot()))
            await pilot.press("3")
    assert sorted(front for front, _ in screens) == sorted(HOSTILE)
    for text, svg in screens:
        assert_no_controls(svg)
        shown, expected = (squeezed(part) for part in (screen_text(svg), neutralize_controls(text)))
        assert expected[:60] in shown and expected[-20:] in shown, expected


def squeezed(text: str) -> str:
    """`text` without whitespace (wrapping moves it) and invisible characters (a terminal may drop them)."""
    return "".join(text.split()).translate(dict.fromkeys(map(ord, INVISIBLE)))


def test_stats_prints_no_control_characters_from_a_hostile_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_home(tmp_path, {"hostile.toml": HOSTILE_PACK})
    for args in (["stats"], ["stats", "--json"]):
        assert main(["--home", str(tmp_path), *args]) == 0
        out = capsys.readouterr().out
        assert_no_controls(out)
        assert "hostile" in out
