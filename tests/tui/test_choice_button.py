"""A prediction choice in the lab screen's narrow sidebar is shown whole, wrapped under itself."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import RadioSet

from tests.tui.study_helpers import run_async
from tui.widgets.choice_button import ChoiceButton

LONG = "the pretrained and fine-tuned one, on the same budget as the one trained from scratch"


class Sidebar(App[None]):
    CSS = "#side { width: 30; }"

    def compose(self) -> ComposeResult:
        with Vertical(id="side"), RadioSet(id="question"):
            yield ChoiceButton(Text(LONG))
            yield ChoiceButton(Text("from scratch"))


def shown_lines(button: ChoiceButton) -> list[str]:
    return [strip.text.rstrip() for strip in button.render_lines(button.region.reset_offset)]


@run_async
async def test_a_long_choice_wraps_with_a_hanging_indent_and_a_short_one_keeps_one_line() -> None:
    app = Sidebar()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        long_button, short_button = app.query(ChoiceButton)
        lines = shown_lines(long_button)
        assert long_button.region.height == len(lines) > 1
        assert " ".join(" ".join(lines).split()[1:]) == LONG  # past the button: every word, in order
        assert all(len(line) <= long_button.region.width for line in lines)
        indent = len(lines[0]) - len(lines[0].lstrip()) + len(lines[0].split()[0]) + 1  # past the button
        assert all(line.startswith(" " * indent) and line[indent] != " " for line in lines[1:])
        assert short_button.region.height == 1 and shown_lines(short_button)[0].endswith("from scratch")
        await pilot.press("tab", "down", "enter")
        assert short_button.value and not long_button.value  # still a radio button of its set
