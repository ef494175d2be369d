"""The `fsrs` crate Anki ships (Python binding `fsrs-rs-python`): fitting, memory states, simulation.

cardlab schedules with py-fsrs (`cards.fsrs_step`); this module only fits parameters, predicts recall for
the metrics and simulates workload. The two implement the same FSRS-6 model (tests/cards/test_fsrs_agree.py
checks that they give the same memory states and intervals). The binding is imported inside each function,
so studying never loads it.

A card's history becomes FSRS reviews (rating, days since the previous answer). Days are whole 24-hour
periods, as py-fsrs counts them when it schedules, so the fitted parameters mean what the scheduler reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

History = list[tuple[int, int]]  # (review time in ms since the epoch, rating 1-4), oldest first
Reviews = list[tuple[int, int]]  # (rating, whole days since the card's previous answer; 0 for the first)

DAY_MS = 86_400_000


class FsrsUnavailable(Exception):
    """fsrs-rs-python is not installed."""


def _binding() -> Any:
    try:
        import fsrs_rs_python
    except ImportError as err:
        raise FsrsUnavailable(
            f"fsrs-rs-python cannot load ({err}); install it with `pip install fsrs-rs-python`"
        ) from err
    return fsrs_rs_python


def to_reviews(history: History) -> Reviews:
    """The card's answers as FSRS sees them: rating and whole days since the answer before."""
    reviews: Reviews = []
    previous: int | None = None
    for at_ms, rating in history:
        reviews.append((rating, (at_ms - previous) // DAY_MS if previous is not None else 0))
        previous = at_ms
    return reviews


class Scored(NamedTuple):
    """One answer the model is scored on: given a day or more after the card's previous answer."""

    at_ms: int
    card: int  # index into the histories
    position: int  # index of the answer in the card's history (at least 1)
    rating: int
    delta_t: int  # whole days since the previous answer (at least 1)
    long_term: int  # answers a day or more after the one before, this one included (RMSE(bins) groups)
    lapses: int  # earlier such answers that were Again


def scored_answers(cards: Sequence[Reviews], histories: Sequence[History]) -> list[Scored]:
    """Every answer given at least a day after the card's previous one, oldest first (ties: by card)."""
    scored = []
    for card, reviews in enumerate(cards):
        long_term = lapses = 0
        for position, (rating, delta_t) in enumerate(reviews):
            if position == 0 or delta_t == 0:
                continue
            long_term += 1
            scored.append(
                Scored(histories[card][position][0], card, position, rating, delta_t, long_term, lapses)
            )
            lapses += rating == 1
    scored.sort()
    return scored


def default_parameters() -> list[float]:
    return list(_binding().DEFAULT_PARAMETERS)


def fit(cards: Sequence[Reviews], scored: Sequence[Scored], relearning_steps: int = 1) -> list[float]:
    """fsrs-rs' `compute_parameters` on these answers, given oldest first as it expects."""
    binding = _binding()
    items = [_item(binding, cards[answer.card][: answer.position + 1]) for answer in scored]
    fitted = binding.FSRS(binding.DEFAULT_PARAMETERS).compute_parameters(
        items, num_relearning_steps=relearning_steps
    )
    return [float(value) for value in fitted]


def _item(binding: Any, reviews: Reviews) -> Any:
    return binding.FSRSItem([binding.FSRSReview(rating, delta_t) for rating, delta_t in reviews])


def retrievability(days: float, stability: float, parameters: Sequence[float]) -> float:
    """FSRS-6's power forgetting curve (py-fsrs and fsrs-rs both use it): 0.9 at `days == stability`."""
    decay = -parameters[20]
    factor = 0.9 ** (1 / decay) - 1
    return (1 + factor * days / stability) ** decay


def predict(cards: Sequence[Reviews], scored: Sequence[Scored], parameters: Sequence[float]) -> list[float]:
    """The predicted recall at each scored answer, from the memory state after the answers before it."""
    binding = _binding()
    needed = sorted({answer.card for answer in scored})
    states = binding.FSRS(list(parameters)).historical_memory_state_batch(
        [_item(binding, cards[card]) for card in needed]
    )
    stability = {card: [state.stability for state in per_card] for card, per_card in zip(needed, states)}
    return [
        retrievability(answer.delta_t, stability[answer.card][answer.position - 1], parameters)
        for answer in scored
    ]


@dataclass(frozen=True)
class WorkloadPoint:
    desired_retention: float
    minutes_per_day: float  # mean time spent per day over the simulated span
    reviews_per_day: float  # mean answers per day (reviews and new cards)
    remembered: float  # expected number of cards recalled at the end of the span


def simulate_workload(
    parameters: Sequence[float],
    desired_retention: float,
    deck_size: int,
    new_per_day: int,
    reviews_per_day: int,
    days: int = 365,
    seed: int = 42,
) -> WorkloadPoint:
    """fsrs-rs' simulator: `deck_size` new cards studied for `days` days under these limits.

    Answer times and rating shares are the simulator's defaults (medians over Anki users).
    """
    binding = _binding()
    config = binding.default_simulator_config()
    config.deck_size = max(1, deck_size)
    config.learn_span = days
    config.learn_limit = new_per_day
    config.review_limit = reviews_per_day
    config.max_cost_perday = 24 * 3600.0  # only the limits bound a day, as when studying
    result = binding.simulate(list(parameters), desired_retention, config, seed)
    return WorkloadPoint(
        desired_retention=desired_retention,
        minutes_per_day=sum(result.cost_per_day) / days / 60,
        reviews_per_day=(sum(result.review_cnt_per_day) + sum(result.learn_cnt_per_day)) / days,
        remembered=float(result.memorized_cnt_per_day[-1]) if result.memorized_cnt_per_day else 0.0,
    )
