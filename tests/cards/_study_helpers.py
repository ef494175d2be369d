"""Shared by the study-core tests: small packs on disk, a hand-driven clock, and a two-process worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cards.config import Config
from cards.pack import Pack, load_pack
from cards.schedule import StudySession
from cards.store import Store

PACK_HEADER = """[pack]
id = "{pack_id}"
title = "Test pack {pack_id}"
version = "1.0.0"
authors = ["tests"]
description = "A small pack for tests."
format = 1
"""


def write_pack(folder: Path, pack_id: str = "demo", cards: Sequence[tuple[str, str, str]] | int = 5) -> Path:
    """A pack of basic cards given as (id, front, back), or `cards` numbered ones."""
    if isinstance(cards, int):
        cards = [(f"q{index}", f"Question {index}?", f"Answer {index}.") for index in range(cards)]
    body = "".join(
        f'\n[[cards]]\nid = "{card_id}"\nfront = "{front}"\nback = "{back}"\n'
        for card_id, front, back in cards
    )
    path = folder / f"{pack_id}.toml"
    path.write_text(PACK_HEADER.format(pack_id=pack_id) + body, encoding="utf-8")
    return path


def make_pack(folder: Path, pack_id: str = "demo", cards: Sequence[tuple[str, str, str]] | int = 5) -> Pack:
    return load_pack(write_pack(folder, pack_id, cards))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def answer_in_process(store_path: str, pack_path: str, answers: int, rating: int, ready, go, results) -> None:
    """Worker for the two-process test: answer `answers` cards as fast as it can; put (rating, ids) on `results`."""
    pack = load_pack(pack_path)
    answered = []
    with Store.open(store_path) as store:
        session = StudySession(store, [pack], Config(new_per_day=10_000, reviews_per_day=10_000))
        ready.set()
        go.wait()
        for _ in range(answers):
            card = session.next_card()
            session.answer(card, rating, duration_ms=1000)
            answered.append(card.id)
    results.put((rating, answered))
