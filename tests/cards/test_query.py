"""The browser's query language (cards.query) and the actions on many cards (cards.card_actions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsrs
import pytest

from cards.card_actions import ACTIONS, apply_action, delete_orphans
from cards.config import Config
from cards.pack import Pack, load_pack
from cards.query import QueryError, matching_keys, parse_query, search
from cards.store import LEARNING, NEW, RELEARNING, REVIEW, CardRow, ReviewRow, Store

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # rollover at 4 AM UTC (timezone set below): today began 04:00
DAY_MS = 86_400_000
NOW_MS = round(NOW.timestamp() * 1000)
CONFIG = Config(timezone="UTC")

PACK = """[pack]
id = "lesson"
title = "Lesson"
version = "1.0.0"
authors = ["tests"]
description = "Query tests."
format = 1

[[cards]]
id = "batchnorm"
front = "What does **BatchNorm** normalise?"
back = "Each activation over the mini-batch."
tags = ["norm", "layers::basics"]

[[cards]]
id = "dropout"
front = "What does dropout zero?"
back = "Random activations, during training only."
tags = ["regularisation"]

[[cards]]
id = "embedding"
front = "What is an embedding?"
back = "A lookup table of learned vectors."
tags = ["collab", "Layers"]

[[cards]]
id = "fresh"
front = "A card never answered"
back = "Still new."

[[cards]]
id = "gaps"
type = "cloze"
front = "{{c1::Weight decay}} adds the {{c2::squared weights}} to the loss."
"""


@pytest.fixture
def pack(tmp_path: Path) -> Pack:
    path = tmp_path / "lesson.toml"
    path.write_text(PACK, encoding="utf-8")
    return load_pack(path)


def _row(pack: Pack, card_id: str, **fields) -> CardRow:
    card = next(card for card in pack.cards if card.id == card_id)
    return CardRow(pack.id, card_id, content_hash=fields.pop("content_hash", card.content_hash), **fields)


@pytest.fixture
def store(tmp_path: Path, pack: Pack) -> Store:
    """batchnorm: a review due in 3 days, 5 lapses, leech; dropout: learning, due now, suspended;
    embedding: review due tomorrow, edited since; gaps#c1: relearning, buried; an orphan with 2 reviews."""
    store = Store.open(tmp_path / "store.sqlite")
    rows = [
        _row(
            pack,
            "batchnorm",
            state=REVIEW,
            stability=20.0,
            difficulty=6.0,
            due_ms=NOW_MS + 3 * DAY_MS,
            last_review_ms=NOW_MS - 10 * DAY_MS,
            reps=12,
            lapses=5,
            tags=("leech",),
        ),
        _row(
            pack,
            "dropout",
            state=LEARNING,
            step=0,
            stability=1.0,
            difficulty=5.0,
            due_ms=NOW_MS - 60_000,
            last_review_ms=NOW_MS - 600_000,
            reps=1,
            suspended=True,
        ),
        _row(
            pack,
            "embedding",
            content_hash="old",
            state=REVIEW,
            stability=100.0,
            difficulty=3.0,
            due_ms=NOW_MS + DAY_MS,
            last_review_ms=NOW_MS - 30 * DAY_MS,
            reps=4,
        ),
        _row(
            pack,
            "gaps#c1",
            state=RELEARNING,
            step=0,
            stability=2.0,
            difficulty=8.0,
            due_ms=NOW_MS + 600_000,
            last_review_ms=NOW_MS - 3 * DAY_MS,
            reps=3,
            lapses=1,
            buried_until_ms=NOW_MS + 16 * 3600_000,
        ),
        CardRow(
            "lesson",
            "renamed-away",
            "x",
            state=REVIEW,
            stability=5.0,
            difficulty=5.0,
            due_ms=NOW_MS - DAY_MS,
            last_review_ms=NOW_MS - 6 * DAY_MS,
            reps=2,
        ),
    ]
    with store.transaction():
        for row in rows:
            store.put_card_row(row)
        for at in (NOW_MS - 8 * DAY_MS, NOW_MS - 6 * DAY_MS):
            store.add_review(
                ReviewRow("lesson", "renamed-away", "x", 3, REVIEW, REVIEW, at, 1000, at, 5.0, 5.0)
            )
    yield store
    store.close()


def ids(store: Store, pack: Pack, text: str) -> list[str]:
    return [card_id for _, card_id in matching_keys(store, [pack], text, NOW, CONFIG)]


ALL = ["batchnorm", "dropout", "embedding", "fresh", "gaps#c1", "gaps#c2", "renamed-away"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ALL),
        ("mini-batch", ["batchnorm"]),  # front or back, case-insensitive
        ("BATCHNORM", ["batchnorm"]),
        ('"lookup table"', ["embedding"]),
        ('"table lookup"', []),
        ("what does", ["batchnorm", "dropout"]),  # both words, anywhere
        ("norm*mini", ["batchnorm"]),  # `*` spans any text
        ("squared", ["gaps#c1", "gaps#c2"]),  # cloze text as written
        ("pack:lesson", ALL),
        ("pack:les*", ALL),
        ("pack:other", []),
        ("tag:norm", ["batchnorm"]),
        ("tag:NORM", ["batchnorm"]),
        ("tag:layers", ["batchnorm", "embedding"]),  # a parent tag matches layers::basics too
        ("tag:layers::basics", ["batchnorm"]),
        ("tag:reg*", ["dropout"]),
        ("tag:leech", ["batchnorm"]),  # the app's own tag
        ("card:dropout", ["dropout"]),
        ("card:gaps", ["gaps#c1", "gaps#c2"]),  # a note id names all its cards
        ("card:gaps#c2", ["gaps#c2"]),
        ("card:*ing", ["embedding"]),
        ("is:new", ["fresh", "gaps#c2"]),
        ("is:learn", ["dropout", "gaps#c1"]),
        ("is:review", ["batchnorm", "embedding", "gaps#c1", "renamed-away"]),  # relearning counts as both
        ("is:due", ["dropout", "gaps#c1", "renamed-away"]),  # before today ends (04:00 tomorrow)
        ("is:suspended", ["dropout"]),
        ("is:buried", ["gaps#c1"]),
        ("is:leech", ["batchnorm"]),
        ("is:edited", ["embedding"]),
        ("is:orphaned", ["renamed-away"]),
        ("prop:ivl>10", ["batchnorm", "embedding"]),
        ("prop:ivl<=5", ["dropout", "gaps#c1", "renamed-away"]),
        ("prop:lapses>=3", ["batchnorm"]),
        ("prop:lapses=0", ["dropout", "embedding", "fresh", "gaps#c2", "renamed-away"]),
        ("prop:reps>3", ["batchnorm", "embedding"]),
        ("prop:reviews!=12", ["dropout", "embedding", "fresh", "gaps#c1", "gaps#c2", "renamed-away"]),
        ("prop:due<0", ["renamed-away"]),  # overdue
        ("prop:due=0", ["dropout", "gaps#c1"]),
        ("prop:due<2", ["dropout", "embedding", "gaps#c1", "renamed-away"]),
        ("prop:due>=3", ["batchnorm"]),
        ("prop:s>50", ["embedding"]),
        ("prop:d<4", ["embedding"]),
        ("prop:r<0.9", ["gaps#c1", "renamed-away"]),
        ("prop:r>=0.99", ["dropout"]),
        ("-is:new", ["batchnorm", "dropout", "embedding", "gaps#c1", "renamed-away"]),
        (
            "-prop:ivl>10",
            ["dropout", "fresh", "gaps#c1", "gaps#c2", "renamed-away"],
        ),  # never answered: no ivl
        ("tag:norm or tag:collab", ["batchnorm", "embedding"]),
        ("tag:norm OR is:suspended OR card:fresh", ["batchnorm", "dropout", "fresh"]),
        ("is:review -(tag:norm or is:edited)", ["gaps#c1", "renamed-away"]),
        ("is:review and -is:orphaned", ["batchnorm", "embedding", "gaps#c1"]),
        ("tag:x is:due prop:r<0.8", []),
        ('"is:new"', []),  # quoted: the text, not the state
    ],
)
def test_each_term_selects_what_it_says(store: Store, pack: Pack, text: str, expected: list[str]) -> None:
    assert ids(store, pack, text) == expected


def test_retrievability_is_fsrs_own(store: Store, pack: Pack) -> None:
    rows = {row.card_id: row for row in search(store, [pack], "is:review", NOW, CONFIG).rows}
    scheduler = fsrs.Scheduler()
    card = fsrs.Card(
        state=fsrs.State.Review, stability=20.0, difficulty=6.0, last_review=NOW - timedelta(days=10)
    )
    assert rows["batchnorm"].retrievability == pytest.approx(scheduler.get_card_retrievability(card, NOW))
    assert search(store, [pack], "card:fresh", NOW, CONFIG).rows[0].retrievability is None


def test_rows_carry_state_flags_and_the_card(store: Store, pack: Pack) -> None:
    rows = {row.card_id: row for row in search(store, [pack], "", NOW, CONFIG).rows}
    assert rows["batchnorm"].flags == ("leech",) and rows["batchnorm"].lapses == 5
    assert rows["batchnorm"].interval_ms == 13 * DAY_MS and rows["batchnorm"].state_name == "review"
    assert rows["dropout"].flags == ("suspended",)
    assert rows["gaps#c1"].flags == ("buried",)
    assert rows["embedding"].flags == ("edited",)
    assert rows["renamed-away"].flags == ("orphaned",) and rows["renamed-away"].card is None
    assert rows["fresh"].card is pack.cards[3] and rows["fresh"].flags == () and rows["fresh"].reviews == 0


def test_sorting_puts_never_answered_last_and_limit_keeps_the_total(store: Store, pack: Pack) -> None:
    result = search(store, [pack], "", NOW, CONFIG, order="stability", descending=True, limit=3)
    assert [row.card_id for row in result.rows] == ["embedding", "batchnorm", "renamed-away"]
    assert result.total == len(ALL)
    ascending = search(store, [pack], "", NOW, CONFIG, order="stability").rows
    assert [row.card_id for row in ascending][-2:] == ["fresh", "gaps#c2"]
    assert [r.card_id for r in search(store, [pack], "", NOW, CONFIG, order="lapses", descending=True).rows][
        :2
    ] == [
        "batchnorm",
        "gaps#c1",
    ]


def test_a_new_pack_object_is_indexed_again(store: Store, pack: Pack, tmp_path: Path) -> None:
    assert ids(store, pack, "vectors") == ["embedding"]
    path = tmp_path / "lesson.toml"
    path.write_text(PACK.replace("learned vectors", "learned rows"), encoding="utf-8")
    assert ids(store, load_pack(path), "vectors") == []


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("tag:norm is:nope", 10, "unknown is:nope; use is:new, is:learn"),
        ("foo:bar", 1, "unknown search `foo:`"),
        ("prop:ivl>ten", 1, "prop:ivl> needs a number, not 'ten'"),
        ("prop:zzz>1", 1, "unknown prop:zzz"),
        ("prop:ivl", 1, "needs a comparison such as prop:ivl>10"),
        ("prop:due<1.5", 1, "whole days"),
        ('a "open phrase', 3, 'a `"` without its closing `"`'),
        ("tag:", 1, "`tag:` needs a value"),
        ("a or", 3, "`or` needs a term after it"),
        ("or a", 1, "`or` needs a term on each side"),
        ("a -", None, None),  # a lone "-" is a word: searching for "-" is fine
        ("(a b", 1, "a `(` without its closing `)`"),
        ("a b)", 4, "unmatched `)`"),
        ("()", 2, "a term is missing before `)`"),
    ],
)
def test_a_bad_query_points_at_its_term(text: str, column: int | None, says: str | None) -> None:
    if column is None:
        parse_query(text)
        return
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert caught.value.position == column - 1
    assert str(caught.value).startswith(f"bad query at column {column} (")
    assert says in str(caught.value)
    assert caught.value.pointer().splitlines()[1] == " " * (column - 1) + "^"


# -- actions ---------------------------------------------------------------------------------------


def act(store: Store, pack: Pack, action: str, text: str) -> int:
    return apply_action(store, [pack], matching_keys(store, [pack], text, NOW, CONFIG), action, NOW, CONFIG)


def test_suspend_and_unsuspend_count_only_what_changed(store: Store, pack: Pack) -> None:
    assert act(store, pack, "suspend", "pack:lesson -is:orphaned") == 5  # dropout already was
    assert ids(store, pack, "is:suspended") == ALL[:-1]
    assert store.card_row("lesson", "fresh").state == NEW  # a row made to carry the flag
    assert act(store, pack, "unsuspend", "") == 6
    assert ids(store, pack, "is:suspended") == []


def test_bury_lasts_until_the_next_rollover_and_unbury_ends_it(store: Store, pack: Pack) -> None:
    assert act(store, pack, "bury", "card:fresh or card:gaps") == 2  # gaps#c1 already was
    tomorrow_4am = round(datetime(2026, 5, 5, 4, tzinfo=UTC).timestamp() * 1000)
    assert store.card_row("lesson", "fresh").buried_until_ms == tomorrow_4am
    assert act(store, pack, "unbury", "is:buried") == 3
    assert ids(store, pack, "is:buried") == []


def test_reset_forgets_the_schedule_but_keeps_the_log(store: Store, pack: Pack) -> None:
    assert act(store, pack, "reset", "card:batchnorm or card:fresh") == 1
    row = store.card_row("lesson", "batchnorm")
    assert (row.state, row.stability, row.due_ms, row.reps, row.lapses, row.tags) == (
        NEW,
        None,
        None,
        0,
        0,
        (),
    )
    assert ids(store, pack, "is:new") == ["batchnorm", "fresh", "gaps#c2"]
    assert len(store.reviews("lesson", "renamed-away")) == 2


def test_due_today_moves_later_cards_to_now(store: Store, pack: Pack) -> None:
    assert act(store, pack, "due-today", "") == 2  # batchnorm, embedding; the rest are due today or new
    assert ids(store, pack, "is:due") == ["batchnorm", "dropout", "embedding", "gaps#c1", "renamed-away"]
    assert store.card_row("lesson", "embedding").due_ms == NOW_MS


def test_delete_orphans_removes_their_state_and_reviews_only(store: Store, pack: Pack) -> None:
    keys = matching_keys(store, [pack], "is:orphaned or card:batchnorm", NOW, CONFIG)
    assert delete_orphans(store, [pack], keys) == (1, 2)
    assert ids(store, pack, "is:orphaned") == [] and store.card_row("lesson", "batchnorm") is not None
    assert store.review_count() == 0


def test_every_action_is_known() -> None:
    assert ACTIONS == ("suspend", "unsuspend", "bury", "unbury", "reset", "due-today")
    with pytest.raises(ValueError, match="unknown action 'zap'"):
        apply_action(None, [], [], "zap", NOW)  # type: ignore[arg-type]
