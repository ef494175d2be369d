"""Card Markdown drawn by one widget: each kind of block, the plain-text shortcut, and the widget."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from textual.app import App, ComposeResult
from textual.content import Content

from tests.tui.study_helpers import run_async
from tui.widgets.card_markdown import Code, ListBlock, card_blocks, lay_out, parsed_blocks, plain_paragraphs
from tui.widgets.card_text import CardText


def drawn(markdown: str, width: int = 40) -> list[str]:
    return [line.plain for line in lay_out(card_blocks(markdown), width)]


def styles_at(line: Content, text: str) -> list[str]:
    """The styles of the spans that cover the first occurrence of `text` in `line`."""
    start = line.plain.index(text)
    return [str(span.style) for span in line.spans if span.start <= start and span.end >= start + len(text)]


def test_paragraphs_wrap_and_are_spaced_by_one_blank_line() -> None:
    assert drawn("one two three four\n\nfive", width=9) == ["one two", "three", "four", "", "five"]


def test_a_list_item_wraps_under_its_own_text() -> None:
    lines = drawn("- short\n- a long item that wraps\n  - nested one", width=16)
    assert lines == ["• short", "• a long item", "  that wraps", "  ▪ nested one"]


def test_ordered_numbers_line_up_and_show_as_the_author_wrote_them() -> None:
    markdown = "".join(f"{number}) item\n" for number in range(9, 12))
    assert drawn(markdown) == [" 9) item", "10) item", "11) item"]
    blocks = card_blocks("3. three\n4. four")
    assert blocks == (ListBlock(("3.", "4."), blocks[0].items),)  # type: ignore[union-attr]
    assert drawn("00. zero\n1. one\n1. one again") == ["00. zero", " 1. one", " 1. one again"]


def test_code_is_highlighted_on_a_band_and_long_lines_fold() -> None:
    blocks = card_blocks("```python\nlearn.fit_one_cycle(1, 1e-2)\n```")
    assert blocks == (Code("learn.fit_one_cycle(1, 1e-2)", "python"),)
    lines = lay_out(blocks, 20)
    assert [line.plain for line in lines] == [" learn.fit_one_cycl ", " e(1, 1e-2)".ljust(20)]
    assert all(line.cell_length == 20 for line in lines)
    assert any("$text-" in str(span.style) for span in lines[0].spans), "python gets syntax colours"


def test_quotes_headings_rules_and_inline_styles() -> None:
    lines = lay_out(card_blocks("# Title\n\n> a **bold** `x` and [link](https://fast.ai)\n\n---"), 12)
    assert [line.plain for line in lines] == [
        "Title",
        "",
        "▌ a bold x",
        "▌ and link",
        "",
        "─" * 12,
    ]
    assert "bold" in styles_at(lines[0], "Title")[0]
    assert "bold" in styles_at(lines[2], "bold")
    assert any("$warning" in style for style in styles_at(lines[2], "x"))
    assert any("link('https://fast.ai')" in style for style in styles_at(lines[3], "link"))


def test_a_table_narrows_its_widest_column_to_fit() -> None:
    markdown = "| name | value |\n|:-|-:|\n| a long name here | 2 |"
    assert drawn(markdown, width=60) == [
        "name             │ value",
        "─────────────────┼──────",
        "a long name here │     2",
    ]
    narrow = drawn(markdown, width=16)
    assert max(len(line) for line in narrow) <= 16
    assert "".join(narrow).count("value") == 1 and "long" in "".join(narrow)


def test_html_and_hard_breaks_show_as_written() -> None:
    assert drawn("a <b>tag</b> and List<int>") == ["a <b>tag</b> and List<int>"]
    assert drawn("line one\\\nline two") == ["line one", "line two"]


# -- the plain-text shortcut ------------------------------------------------------------------

PLAIN_ALPHABET = "abcxyzAB019 \n,;?!'\"()%/:.-_éß"
# Words of card questions, and near misses: numbers, a domain, list markers, line breaks.
WORDS = [
    "What",
    "is",
    "an",
    "embedding?",
    "(the",
    "ULMFiT)",
    "don't",
    "2.6",
    "fast.ai",
    "1.",
    "-",
    "a:",
    "\n",
    "\n\n",
]
TEXTS = st.text(alphabet=PLAIN_ALPHABET, max_size=60) | st.lists(st.sampled_from(WORDS), max_size=12).map(
    " ".join
)


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.integers(4, 30))
def test_the_shortcut_draws_what_the_parser_draws(text: str, width: int) -> None:
    shortcut = plain_paragraphs(text)
    if shortcut is not None:
        assert lay_out(shortcut, width) == lay_out(parsed_blocks(text), width)


def test_the_shortcut_takes_plain_questions_and_leaves_markdown_to_the_parser() -> None:
    assert plain_paragraphs("How does transfer learning for NLP work (the ULMFiT recipe)?") is not None
    assert plain_paragraphs("Why freeze the body first?\n\nThe head is random.") is not None
    for markdown in (
        "What does fast.ai teach?",
        "Why 2.6?",
        "1. a list",
        "- item",
        "a  \nhard break",
        "see //host",
        "x_y",
    ):
        assert plain_paragraphs(markdown) is None, markdown


def test_a_plain_card_is_drawn_without_loading_markdown_it() -> None:
    code = (
        "import sys\n"
        "from tui.widgets.card_markdown import card_blocks, lay_out\n"
        "lay_out(card_blocks('What is an embedding?'), 40)\n"
        "assert 'markdown_it' not in sys.modules, 'plain text loaded the parser'\n"
        "lay_out(card_blocks('What is an **embedding**?'), 40)\n"
        "assert 'markdown_it' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the widget -------------------------------------------------------------------------------


class OneCard(App[None]):
    def compose(self) -> ComposeResult:
        yield CardText("- a list item long enough to wrap at twenty cells\n\nend", id="card")


@run_async
async def test_the_widget_lays_out_for_its_width_and_again_when_it_changes() -> None:
    app = OneCard()
    async with app.run_test(size=(22, 10)) as pilot:
        card = app.query_one(CardText)
        assert card.region.height == 5  # three lines of the item, a blank line, "end"
        assert card.source.startswith("- a list item")
        await pilot.resize_terminal(60, 10)
        await pilot.pause()
        assert card.region.height == 3
        card.show("new text")
        await pilot.pause()
        assert card.region.height == 1 and card.source == "new text"
