"""The home screen's problem box lists every problem (scrolling) and says how many it left out."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import Static

import cards.pack_format as pack_format
from cards.pack import MAX_PROBLEMS_PER_FILE, PackError, load_pack
from tests.tui.study_helpers import SIZE, fixed_clock, make_home, run_async
from tui.app import create_app
from tui.screens.home import problem_lines

HEADER = (
    '[pack]\nid = "big"\ntitle = "B"\nversion = "1.0.0"\nauthors = ["a"]\ndescription = "d"\nformat = 1\n\n'
)


@run_async
async def test_every_problem_is_in_the_box_which_scrolls(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    for i in range(7):
        (home.packs_dir / f"broken{i}-with-a-long-name-that-wraps-in-the-box.toml").write_text(
            f'[pack]\nid = "broken{i}"\n', encoding="utf-8"
        )
    app = create_app(home, clock=fixed_clock())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = str(app.screen.query_one("#load-errors-text", Static).render())
        assert all(f"broken{i}-with" in text for i in range(7))
        box = app.screen.query_one("#load-errors", VerticalScroll)
        assert box.max_scroll_y > 0, "the problems outgrow the box, so it scrolls"
        assert str(len(app.library.errors)) in str(box.border_title)


def test_problem_lines_say_how_many_more() -> None:
    errors = tuple(f"p{i}.toml:1: bad" for i in range(7))
    assert problem_lines(errors, limit=5).splitlines()[-1].startswith("… and 2 problems more")
    assert problem_lines(errors, limit=7) == "\n".join(errors)


def test_a_pack_with_many_problems_describes_only_the_first(tmp_path: Path, monkeypatch) -> None:
    hints = []
    real = pack_format.did_you_mean
    monkeypatch.setattr(pack_format, "did_you_mean", lambda *a: hints.append(a) or real(*a))
    cards = "".join(f'[[cards]]\nid = "c{i}"\nfront = "f"\nbak = "b"\n\n' for i in range(2000))
    path = tmp_path / "big.toml"
    path.write_text(HEADER + cards, encoding="utf-8")
    try:
        load_pack(path)
    except PackError as error:
        problems = error.problems
    assert len(problems) == MAX_PROBLEMS_PER_FILE + 1
    assert problems[-1].message.startswith(f"and {2 * 2000 - MAX_PROBLEMS_PER_FILE} more problems")
    assert len(hints) <= MAX_PROBLEMS_PER_FILE, "no costly hint is built for a problem not shown"
