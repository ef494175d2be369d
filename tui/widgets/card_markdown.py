"""Card Markdown as blocks of Textual `Content`, laid out line by line for a given width.

Why not Textual's `Markdown` widget: it mounts a widget per block (a paragraph, each list item, its
bullet...), and loading it (its module, markdown-it and Pygments) and its stylesheet came to more than
half of cardlab's start-up before the first card. Here a card is one widget (`CardText`) whose lines are
computed from these blocks: paragraphs, headings, lists (hanging indents), quotes, code (highlighted),
rules and tables.

Card text is parsed with `card_markdown_parser` (raw HTML stays literal text). A text with no Markdown
syntax at all, which is what most card fronts are, is split into paragraphs without loading the parser;
`tests/tui/test_card_text.py` checks that both ways draw such texts alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from textual.content import Content, Span
from textual.style import Style

if TYPE_CHECKING:
    from markdown_it.token import Token

BULLETS = ("• ", "▪ ", "‣ ", "◦ ")
# Theme variables, so cards follow the app's theme the way Textual's Markdown widget does.
HEADING_STYLES = {
    1: "bold $markdown-h1-color",
    2: "underline $markdown-h2-color",
    3: "bold $markdown-h3-color",
    4: "bold $markdown-h4-color",
    5: "$markdown-h5-color",
    6: "italic $markdown-h6-color",
}
INLINE_STYLES = {"em": "italic", "strong": "bold", "s": "strike"}
CODE_INLINE_STYLE = "$text-warning on $warning 10%"
CODE_BLOCK_STYLE = "on $boost"
QUOTE_BAR = ("▌ ", "$primary")
RULE_STYLE = "$secondary"
TABLE_RULE_STYLE = "$foreground 40%"
LINK_STYLE = "underline $text-accent"

_SPACES = re.compile(r"\s+")
# Plain text: letters, digits, spaces and punctuation that can neither open Markdown syntax nor be
# linkified ("fast.ai", "//host" and "a:/b" would be), every line starting with a letter, a quote or a
# parenthesis (so no list, heading, quote or indented code) and no space ending a line (a line break).
_PLAIN_TEXT = re.compile(r"""[\w ,;?!'"()%/:.\n-]*""")
_PLAIN_LINE_START = re.compile(r"""[^\W\d_]|["'(]""")
_NOT_PLAIN = re.compile(r"""\.\S|:/|//|_| \n| $""")


# The blocks are named tuples rather than frozen dataclasses: as immutable and comparable, and far
# cheaper to define (this module imported in 4.1 ms with seven dataclasses, 1.3 ms with these).


class Paragraph(NamedTuple):
    text: Content


class Heading(NamedTuple):
    level: int
    text: Content


class Code(NamedTuple):
    text: str
    language: str


class Quote(NamedTuple):
    blocks: tuple[Block, ...]


class ListBlock(NamedTuple):
    numbers: tuple[str, ...]  # each ordered item's number as written ("1.", "00.", "3)"); none: bullets
    items: tuple[tuple[Block, ...], ...]


class Rule(NamedTuple):
    """A thematic break. It has no fields, so as a tuple it is empty: never test a block for truth."""


class Table(NamedTuple):
    head: tuple[Content, ...]
    rows: tuple[tuple[Content, ...], ...]
    align: tuple[str, ...]  # "left", "center" or "right" per column


Block = Paragraph | Heading | Code | Quote | ListBlock | Rule | Table


def card_blocks(markdown: str) -> tuple[Block, ...]:
    """The blocks of a card's text."""
    plain = plain_paragraphs(markdown)
    return parsed_blocks(markdown) if plain is None else plain


def parsed_blocks(markdown: str) -> tuple[Block, ...]:
    """The blocks of any Markdown text, through the parser."""
    from tui.widgets.safe_text import card_markdown_parser

    blocks, _ = _blocks(card_markdown_parser().parse(markdown), 0, None)
    return tuple(blocks)


def plain_paragraphs(markdown: str) -> tuple[Block, ...] | None:
    """The paragraphs of a text without any Markdown syntax, or None when it may have some."""
    text = markdown.strip("\n")
    if not _PLAIN_TEXT.fullmatch(text) or _NOT_PLAIN.search(text):
        return None
    if any(line and not _PLAIN_LINE_START.match(line) for line in text.split("\n")):
        return None
    paragraphs = (_SPACES.sub(" ", part) for part in re.split(r"\n\n+", text) if part)
    return tuple(Paragraph(Content(paragraph)) for paragraph in paragraphs)


# -- tokens to blocks -----------------------------------------------------------------------------


def _blocks(tokens: Sequence[Token], index: int, closing: str | None) -> tuple[list[Block], int]:
    """The blocks from `tokens[index]` up to the token of type `closing`; and the index after it."""
    blocks: list[Block] = []
    while index < len(tokens):
        token = tokens[index]
        kind = token.type
        if kind == closing:
            return blocks, index + 1
        if kind == "paragraph_open":
            blocks.append(Paragraph(inline_content(tokens[index + 1])))
            index += 3
        elif kind == "heading_open":
            blocks.append(Heading(int(token.tag[1:]), inline_content(tokens[index + 1])))
            index += 3
        elif kind in ("fence", "code_block"):
            language = token.info.split()[0] if token.info.strip() else ""
            blocks.append(Code(token.content.rstrip("\n"), language))
            index += 1
        elif kind == "hr":
            blocks.append(Rule())
            index += 1
        elif kind == "blockquote_open":
            inner, index = _blocks(tokens, index + 1, "blockquote_close")
            blocks.append(Quote(tuple(inner)))
        elif kind in ("bullet_list_open", "ordered_list_open"):
            block, index = _list(tokens, index)
            blocks.append(block)
        elif kind == "table_open":
            table, index = _table(tokens, index)
            blocks.append(table)
        else:  # nothing else carries text with html off; never drop what might
            if token.content:
                blocks.append(Paragraph(Content(token.content)))
            index += 1
    return blocks, index


def _list(tokens: Sequence[Token], index: int) -> tuple[ListBlock, int]:
    """A list; an ordered item keeps the number its author typed (a renderer would count from the
    first, and "00." or "1. 1. 1." would not show as written)."""
    opening = tokens[index]
    closing = opening.type.replace("_open", "_close")
    ordered = opening.type == "ordered_list_open"
    numbers: list[str] = []
    items: list[tuple[Block, ...]] = []
    index += 1
    while tokens[index].type != closing:  # each is a list_item_open
        if ordered:
            numbers.append(tokens[index].info + tokens[index].markup)
        item, index = _blocks(tokens, index + 1, "list_item_close")
        items.append(tuple(item))
    return ListBlock(tuple(numbers), tuple(items)), index + 1


def _table(tokens: Sequence[Token], index: int) -> tuple[Table, int]:
    rows: list[tuple[Content, ...]] = []
    align: list[str] = []
    row: list[Content] = []
    index += 1
    while tokens[index].type != "table_close":
        token = tokens[index]
        if token.type in ("th_open", "td_open"):
            row.append(inline_content(tokens[index + 1]))
            if not rows:
                style = str(token.attrGet("style") or "")
                align.append(style.removeprefix("text-align:") or "left")
        elif token.type == "tr_close":
            rows.append(tuple(row))
            row = []
        index += 1
    head, *body = rows or [()]
    return Table(head, tuple(body), tuple(align)), index + 1


def inline_content(token: Token) -> Content:
    """The text of an inline token, styled: emphasis, code, links; whitespace runs drawn as one space."""
    pieces: list[str] = []
    spans: list[Span] = []
    opened: list[tuple[list[Style | str], int]] = []
    position = 0

    def add(text: str) -> None:
        nonlocal position
        pieces.append(text)
        position += len(text)

    for child in token.children or []:
        kind = child.type
        if kind == "text":
            add(_SPACES.sub(" ", child.content))
        elif kind == "softbreak":
            add(" ")
        elif kind == "hardbreak":
            add("\n")
        elif kind == "code_inline":
            spans.append(Span(position, position + len(child.content), CODE_INLINE_STYLE))
            add(child.content)
        elif kind == "link_open":  # a click opens it, as in Textual's Markdown widget
            href = str(child.attrGet("href") or "")
            opened.append(([LINK_STYLE, Style.from_meta({"@click": f"link({href!r})"})], position))
        elif kind.endswith("_open"):
            opened.append(([INLINE_STYLES.get(kind.removesuffix("_open"), "")], position))
        elif kind.endswith("_close") and opened:
            styles, start = opened.pop()
            spans += [Span(start, position, style) for style in styles]
        elif kind == "image":
            add(f"[image: {child.content or child.attrGet('src') or ''}]")
        else:
            add(child.content)
    return Content("".join(pieces), spans=[span for span in spans if span.style])


# -- blocks to lines ------------------------------------------------------------------------------


def lay_out(blocks: Sequence[Block], width: int, spaced: bool = True, depth: int = 0) -> list[Content]:
    """The lines that draw `blocks` in `width` cells; `spaced` puts a blank line between blocks."""
    width = max(width, 1)
    lines: list[Content] = []
    for number, block in enumerate(blocks):
        if number and spaced:
            lines.append(Content())
        lines += _block_lines(block, width, depth)
    return lines


def _block_lines(block: Block, width: int, depth: int) -> list[Content]:
    if isinstance(block, Paragraph):
        return block.text.wrap(width)
    if isinstance(block, Heading):
        return block.text.stylize_before(HEADING_STYLES[block.level]).wrap(width)
    if isinstance(block, Code):
        return _code_lines(block, width)
    if isinstance(block, Rule):
        return [Content.styled("─" * width, RULE_STYLE)]
    if isinstance(block, Quote):
        bar = Content.styled(*QUOTE_BAR)
        return [bar + line for line in lay_out(block.blocks, width - bar.cell_length, depth=depth)]
    if isinstance(block, ListBlock):
        return _list_lines(block, width, depth)
    return _table_lines(block, width)


def _code_lines(block: Code, width: int) -> list[Content]:
    """Highlighted code on a shaded band, long lines folded (code is never re-wrapped at spaces)."""
    from textual.highlight import highlight

    code = highlight(block.text, language=block.language or None).expand_tabs(4)
    inner = max(width - 2, 1)
    lines = []
    for line in code.split("\n", allow_blank=True):
        for part in line.fold(inner) if line.cell_length > inner else [line]:
            lines.append(
                (" " + part).pad_right(width - 1 - part.cell_length).stylize_before(CODE_BLOCK_STYLE)
            )
    return lines


def _list_lines(block: ListBlock, width: int, depth: int) -> list[Content]:
    if block.numbers:
        widest = max(len(number) for number in block.numbers)
        markers = [f"{number} ".rjust(widest + 1) for number in block.numbers]
    else:
        markers = [BULLETS[depth % len(BULLETS)]] * len(block.items)
    lines: list[Content] = []
    for marker, item in zip(markers, block.items, strict=True):
        indent = len(marker)
        body = lay_out(item, width - indent, spaced=False, depth=depth + 1) or [Content()]
        lines.append(Content.styled(marker, "bold") + body[0])
        lines += [Content(" " * indent) + line for line in body[1:]]
    return lines


def _table_lines(table: Table, width: int) -> list[Content]:
    """Columns as wide as their widest cell, the widest narrowed first when the table does not fit."""
    columns = max(len(table.head), *(len(row) for row in table.rows)) if table.rows else len(table.head)
    if columns == 0:
        return []
    rows = [_padded_row(row, columns) for row in (table.head, *table.rows)]
    widths = [max(1, *(row[column].cell_length for row in rows)) for column in range(columns)]
    room = max(width - 3 * (columns - 1), columns)
    while sum(widths) > room:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    align = [*table.align, *["left"] * columns][:columns]
    separator = Content.styled(" │ ", TABLE_RULE_STYLE)
    lines: list[Content] = []
    for number, row in enumerate(rows):
        lines += _row_lines(row, widths, align, separator, bold=number == 0)
        if number == 0:
            lines.append(Content.styled("─┼─".join("─" * cells for cells in widths), TABLE_RULE_STYLE))
    return lines


def _padded_row(row: tuple[Content, ...], columns: int) -> list[Content]:
    return [*row, *[Content()] * (columns - len(row))]


def _row_lines(
    row: list[Content], widths: list[int], align: list[str], separator: Content, bold: bool
) -> list[Content]:
    cells = [cell.stylize_before("bold") if bold else cell for cell in row]
    wrapped = [cell.wrap(cells_wide) for cell, cells_wide in zip(cells, widths, strict=True)]
    height = max(len(lines) for lines in wrapped)
    lines = []
    for y in range(height):
        parts = [
            _aligned(lines[y] if y < len(lines) else Content(), cells_wide, how)
            for lines, cells_wide, how in zip(wrapped, widths, align, strict=True)
        ]
        lines.append(separator.join(parts))
    return lines


def _aligned(cell: Content, width: int, how: str) -> Content:
    if how == "right":
        return cell.right(width)
    if how == "center":
        return cell.center(width)
    return cell.pad_right(width - cell.cell_length)
