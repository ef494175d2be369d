"""Anki field HTML -> cardlab Markdown, and the media files a field refers to.

The converter is markdownify (MIT, maintained, built on BeautifulSoup): one method per tag, so the few
places cardlab differs from its defaults are small overrides. html2text, the other well-kept choice,
is GPL-3.0, which cardlab's Apache-2.0 licence cannot take in.

Kept: bold, italic, lists, line breaks, `<code>` and `<pre>` (as fenced blocks), links, entities
decoded (`&nbsp;` becomes a plain space). Sub- and superscripts become text (`H2O`, `x^2`), since
the terminal has neither. Images become `![name](MEDIA/name)` and `[sound:x.mp3]` a link to the copied
file. Text that looks like HTML but was typed as text (`&lt;unk&gt;`) stays `<unk>`: cardlab shows card
Markdown with raw HTML off, so it appears as typed.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import unquote

from markdownify import MarkdownConverter

_SOUND = re.compile(r"\[sound:([^\]\n]+)\]")
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


class _AnkiConverter(MarkdownConverter):
    def __init__(self, media: Collection[str], media_folder: str) -> None:
        super().__init__(
            heading_style="ATX",
            bullets="-",
            newline_style="backslash",
            strong_em_symbol="*",
            escape_misc=False,
        )
        self._media = media
        self._folder = media_folder
        self.referenced: list[str] = []

    def convert_img(self, el, text, parent_tags):  # noqa: ANN001, ANN201
        name = unquote(el.get("src") or "")
        if name not in self._media:
            return f"[image: {name}]" if name else ""
        self.referenced.append(name)
        return f"![{name}]({_link_target(f'{self._folder}/{name}')})"

    def convert_sub(self, el, text, parent_tags):  # noqa: ANN001, ANN201
        return text

    def convert_sup(self, el, text, parent_tags):  # noqa: ANN001, ANN201
        return f"^{text}" if text else ""


def _link_target(name: str) -> str:
    """A path as a Markdown link target: wrapped in <> when it has spaces or parentheses."""
    return f"<{name}>" if any(char in name for char in " ()<>") else name


def html_to_markdown(
    html: str, media: Collection[str] = (), media_folder: str = "media"
) -> tuple[str, list[str]]:
    """The Markdown for one field, and the media file names it refers to (those in `media`)."""
    text, referenced, _ = field_to_markdown(html, media, media_folder)
    return text, referenced


def field_to_markdown(
    html: str, media: Collection[str] = (), media_folder: str = "media"
) -> tuple[str, list[str], bool]:
    """`html_to_markdown`, and False when the HTML could not be converted (nested deeper than the
    converter's recursion allows) and its text alone is kept."""
    converter = _AnkiConverter(media, media_folder)
    try:
        text = converter.convert(html)
    except RecursionError:
        return plain_text(html), [], False
    text, referenced = _tidy(text, media, media_folder, converter)
    return text, referenced, True


_TAG = re.compile(r"<[^<>]*>")
_BREAK = re.compile(r"<br\s*/?>|</(?:div|p|li|tr|h[1-6]|pre|blockquote)\s*>", re.IGNORECASE)


def plain_text(html: str) -> str:
    """The text of `html` without its tags (no parser, no recursion: any depth), entities decoded."""
    import html as entities

    text = entities.unescape(_TAG.sub("", _BREAK.sub("\n", html))).replace("\xa0", " ")
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _tidy(
    text: str, media: Collection[str], media_folder: str, converter: _AnkiConverter
) -> tuple[str, list[str]]:
    text = text.replace("\xa0", " ")
    text = _SOUND.sub(
        lambda match: _sound(match.group(1).strip(), media, media_folder, converter.referenced), text
    )
    text = _TRAILING_SPACE.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text).strip()
    return text, list(dict.fromkeys(converter.referenced))


def _sound(name: str, media: Collection[str], folder: str, referenced: list[str]) -> str:
    if name not in media:
        return f"[sound: {name}]"
    referenced.append(name)
    return f"[sound: {name}]({_link_target(f'{folder}/{name}')})"
