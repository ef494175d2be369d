"""Shared pieces of the study-app tests: a small pack, a fixed clock, a home, and reading the store."""

from __future__ import annotations

import asyncio
import functools
import html
import re
import sqlite3
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path

from cards.paths import Home

PACK_ID = "sample"
# A Thursday, 14:00 UTC: far from the 4 AM rollover, so "today" is unambiguous.
NOW = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
SIZE = (100, 30)

# Four basic cards, one cloze note with two deletions (c2 has a hint), in this order of study.
SAMPLE_PACK = '''\
[pack]
id = "sample"
title = "Sample pack"
version = "1.0.0"
authors = ["tests"]
description = "Cards for the study app tests."
format = 1

[[cards]]
id = "embedding"
front = "What is an **embedding**?"
back = """
A lookup table of learned vectors:

```python
emb = nn.Embedding(n_users, 50)
```
"""
tags = ["collab"]
source = "lesson 4"

[[cards]]
id = "dropout"
front = "What does `drop_mult` scale?"
back = "Every dropout probability of the AWD-LSTM."
lab = "ulmfit-lm"

[[cards]]
id = "weight-decay"
front = "What does weight decay penalise?"
back = "The sum of the squared weights."

[[cards]]
id = "cold-start"
front = "What is the cold-start problem?"
back = "Recommending for a user or item with no history."

[[cards]]
id = "ulmfit"
type = "cloze"
front = "ULMFiT first trains a {{c1::language model}} on {{c2::WikiText-103::a corpus}}."
back = "Then it fine-tunes on the target corpus."
'''

# Card text that tries to drive the terminal (ANSI) and the renderer (Rich/Textual markup).
HOSTILE_PACK = """\
[pack]
id = "hostile"
title = "Hostile [bold red]pack[/] \\u001b[31mred"
version = "1.0.0"
authors = ["tests"]
description = "Markup and escapes that must show literally."
format = 1

[[cards]]
id = "markup"
front = "Is [bold]this bold[/bold]? [link=https://example.com]a link[/link] \\u001b[2J\\u001b[31mRED"
back = "[reverse]not reversed[/] and \\u001b]0;title\\u0007 no title change"
notes = "[blink]notes[/blink] \\u001b[5m"
"""


def run_async(test: Callable[..., Coroutine[object, object, None]]) -> Callable[..., None]:
    """Run an async test function with asyncio (no async pytest plugin is installed)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def screen_text(svg: str) -> str:
    """The characters of an app screenshot (`App.export_screenshot()`), spans joined in order."""
    spans = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    return "".join(html.unescape(span) for span in spans).replace("\xa0", " ")


def fixed_clock(moment: datetime = NOW) -> Callable[[], datetime]:
    return lambda: moment


def make_home(folder: Path, packs: dict[str, str] | None = None) -> Home:
    """A home with UTC study days and the given packs (file name -> TOML) in its packs folder."""
    home = Home.at(folder).ensure()
    home.config_path.write_text('timezone = "UTC"\n', encoding="utf-8")
    for name, text in (packs or {}).items():
        (home.packs_dir / name).write_text(text, encoding="utf-8")
    return home


def write_pack(folder: Path, text: str = SAMPLE_PACK, name: str = "sample.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def reviews(home: Home) -> list[tuple[str, int, int]]:
    """(card id, rating, duration_ms) of every logged review, oldest first, read with plain sqlite3."""
    with sqlite3.connect(home.store_path) as db:
        return db.execute("SELECT card_id, rating, duration_ms FROM review_log ORDER BY id").fetchall()


def card_state(home: Home, card_id: str) -> dict[str, object] | None:
    with sqlite3.connect(home.store_path) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM card_state WHERE card_id = ?", (card_id,)).fetchone()
    return dict(row) if row else None
