"""Deterministic large study data for the scale benchmarks: one big pack and a store full of history.

`make_scale_home(folder, n_cards, n_reviews)` writes a pack of `n_cards` basic cards into the home's packs
folder and a review store whose log holds `n_reviews` rows spread over the past year, with card states
that leave some cards learning, many reviews due today and the rest unseen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cards.pack import content_hash
from cards.paths import Home
from cards.store import LEARNING, NEW, REVIEW, CardRow, ReviewRow, Store

PACK_ID = "scale"
SEEN_SHARE = 0.8  # share of the cards that have a history
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class ScaleHome:
    home: Home
    pack_path: Path
    pack_id: str
    n_cards: int
    n_reviews: int
    now: datetime  # the moment the history was generated up to


def _front(index: int) -> str:
    return f"Scale question {index}: what is {index} * 7?"


def _back(index: int) -> str:
    return f"It is **{index * 7}**."


def write_scale_pack(path: Path, n_cards: int) -> None:
    header = (
        "[pack]\n"
        f'id = "{PACK_ID}"\n'
        'title = "Scale benchmark"\n'
        'version = "1.0.0"\n'
        'authors = ["bench"]\n'
        'description = "Generated cards for the scale benchmark."\n'
        "format = 1\n"
    )
    cards = [
        f'\n[[cards]]\nid = "card-{index:06d}"\nfront = "{_front(index)}"\nback = "{_back(index)}"\n'
        f'tags = ["scale", "group-{index % 10}"]\n'
        for index in range(n_cards)
    ]
    path.write_text(header + "".join(cards), encoding="utf-8")


def _history(rng: random.Random, pack_id: str, card_index: int, count: int, now_ms: int) -> tuple:
    """`count` log rows for one card over the past year, and the card's state after them."""
    card_id = f"card-{card_index:06d}"
    digest = content_hash("basic", _front(card_index), _back(card_index), None)
    start = now_ms - rng.randrange(30, 365) * _DAY_MS
    times = sorted(rng.randrange(start, now_ms - _DAY_MS) for _ in range(count))  # today is left fresh
    reviews, state, lapses = [], NEW, 0
    for moment in times:
        rating = rng.choices((1, 2, 3, 4), weights=(10, 10, 70, 10))[0]
        after = LEARNING if state == NEW else REVIEW
        lapses += state == REVIEW and rating == 1
        reviews.append(
            ReviewRow(
                pack_id,
                card_id,
                digest,
                rating,
                state,
                after,
                moment,
                rng.randrange(2000, 20000),
                moment + _DAY_MS,
                5.0,
                5.0,
            )
        )
        state = after
    learning = rng.random() < 0.01
    row = CardRow(
        pack_id=pack_id,
        card_id=card_id,
        content_hash=digest,
        state=LEARNING if learning else REVIEW,
        step=0 if learning else None,
        stability=rng.uniform(1, 200),
        difficulty=rng.uniform(1, 10),
        due_ms=now_ms + rng.randrange(-10 * _DAY_MS, 60 * _DAY_MS),
        last_review_ms=times[-1],
        reps=count,
        lapses=min(lapses, 7),
    )
    return row, reviews


def make_scale_home(
    folder: str | Path, n_cards: int = 100_000, n_reviews: int = 1_000_000, seed: int = 0
) -> ScaleHome:
    """Build (or rebuild) the scale home under `folder`; the same arguments give the same data."""
    home = Home.at(folder).ensure()
    rng = random.Random(seed)
    now = datetime.now(UTC)
    now_ms = round(now.timestamp() * 1000)
    pack_path = home.packs_dir / f"{PACK_ID}.toml"
    write_scale_pack(pack_path, n_cards)
    for stale in home.data_dir.glob(home.store_path.name + "*"):
        stale.unlink()
    seen = max(1, int(n_cards * SEEN_SHARE)) if n_reviews else 0
    per_card = [n_reviews // seen + (index < n_reviews % seen) for index in range(seen)]
    with Store.open(home.store_path) as store, store.transaction():
        for index, count in enumerate(per_card):
            if count == 0:
                continue
            row, reviews = _history(rng, PACK_ID, index, count, now_ms)
            store.put_card_row(row)
            store.add_reviews(reviews)
    return ScaleHome(home, pack_path, PACK_ID, n_cards, n_reviews, now)


def simulate_history(
    store: Store,
    n_cards: int,
    reviews_per_card: int,
    seed: int = 0,
    forgetting: float = 3.0,
    student: Sequence[float] | None = None,
) -> int:
    """Write the review log of a simulated student who forgets faster than fsrs' defaults predict.

    Each card is reviewed when fsrs (default parameters) says it is due, plus up to two days late. The
    student recalls it with probability R**forgetting, R being fsrs' predicted retrievability; or, given
    `student` parameters, with the retrievability those parameters give (FSRS is then the true model).
    Returns the rows written.
    """
    import fsrs

    rng = random.Random(seed)
    scheduler = fsrs.Scheduler(enable_fuzzing=False)
    memory = fsrs.Scheduler(parameters=student, enable_fuzzing=False) if student else None
    start = datetime(2025, 1, 1, 9, tzinfo=UTC)
    rows = []
    for index in range(n_cards):
        card = fsrs.Card(card_id=0, due=start)
        truth = fsrs.Card(card_id=0, due=start)
        moment = start + timedelta(hours=rng.randrange(0, 24 * 30))
        for _ in range(reviews_per_card):
            seen = card.last_review is not None
            if not seen:
                recall = 0.7
            elif memory is not None:
                recall = memory.get_card_retrievability(truth, moment)
            else:
                recall = scheduler.get_card_retrievability(card, moment) ** forgetting
            rating = rng.choice((2, 3, 3, 4)) if rng.random() < recall else 1
            state_before = int(card.state) if seen else NEW
            card, _ = scheduler.review_card(card, fsrs.Rating(rating), review_datetime=moment)
            if memory is not None:
                truth, _ = memory.review_card(truth, fsrs.Rating(rating), review_datetime=moment)
            at_ms = round(moment.timestamp() * 1000)
            rows.append(
                ReviewRow(
                    "simulated",
                    f"card-{index}",
                    "",
                    rating,
                    state_before,
                    int(card.state),
                    at_ms,
                    rng.randrange(2000, 15000),
                    round(card.due.timestamp() * 1000),
                    card.stability,
                    card.difficulty,
                )
            )
            moment = card.due + timedelta(hours=rng.randrange(0, 48))
    with store.transaction():
        store.add_reviews(rows)
    return len(rows)
