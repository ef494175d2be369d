"""py-fsrs (which schedules) and fsrs-rs (which fits and simulates) are one model: same states, intervals, recall.

Over a few hundred generated histories, with same-day answers, lapses and late or early reviews, and for
more than one parameter set. The one known difference: fsrs-rs caps stability at 36,500 days (100 years)
and py-fsrs does not, so histories here stop before a card's stability gets near a century.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import fsrs
import fsrs_rs_python
import pytest
from fsrs.scheduler import DEFAULT_PARAMETERS

from cards.fsrs_rs import predict, scored_answers
from cards.fsrs_rs import to_reviews as reviews_of_ms


def ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def to_reviews(history: list[tuple[datetime, int]]) -> list[tuple[int, int]]:
    return reviews_of_ms([(ms(moment), rating) for moment, rating in history])


FORGETFUL = (0.05, 0.3, 0.6, 2.0, *DEFAULT_PARAMETERS[4:20], 0.4)
START = datetime(2025, 3, 1, 9, tzinfo=UTC)


def generated_history(rng: random.Random, scheduler: fsrs.Scheduler) -> list[tuple[datetime, int]]:
    """Answers at the due date give or take (a same-day re-answer now and then), ratings mostly Good."""
    card = fsrs.Card(card_id=0, due=START)
    moment = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 20))
    history = []
    for _ in range(rng.randrange(2, 12)):
        rating = rng.choices((1, 2, 3, 4), weights=(15, 10, 60, 15))[0]
        history.append((moment, rating))
        card, _ = scheduler.review_card(card, fsrs.Rating(rating), review_datetime=moment)
        if card.stability > 10_000:
            history.pop()  # keep away from fsrs-rs' stability cap
            break
        if rng.random() < 0.15:
            moment += timedelta(minutes=rng.randrange(5, 600))  # again the same day
        else:
            moment = card.due + timedelta(hours=rng.randrange(-12, 24 * 5))
            moment = max(moment, history[-1][0] + timedelta(minutes=1))
    return history


@pytest.mark.parametrize("parameters", [DEFAULT_PARAMETERS, FORGETFUL], ids=["defaults", "forgetful"])
@pytest.mark.parametrize("desired_retention", [0.8, 0.9, 0.95])
def test_states_and_intervals_agree(parameters, desired_retention):
    # no learning steps: every answer gets an FSRS interval in days, which fsrs-rs computes too
    scheduler = fsrs.Scheduler(
        parameters=parameters,
        desired_retention=desired_retention,
        learning_steps=(),
        relearning_steps=(),
        enable_fuzzing=False,
    )
    model = fsrs_rs_python.FSRS(list(parameters))
    rng = random.Random(int(desired_retention * 100))
    compared = same = 0
    for _ in range(300):
        card, state = fsrs.Card(card_id=0, due=START), None
        for (moment, rating), (_, delta_t) in zip(
            history := generated_history(rng, scheduler), to_reviews(history)
        ):
            card, _ = scheduler.review_card(card, fsrs.Rating(rating), review_datetime=moment)
            chosen = getattr(
                model.next_states(state, desired_retention, delta_t),
                ("again", "hard", "good", "easy")[rating - 1],
            )
            state = chosen.memory
            assert card.stability == pytest.approx(state.stability, rel=2e-4)
            assert card.difficulty == pytest.approx(state.difficulty, rel=2e-4)
            interval = (card.due - moment).days
            # both at least a day; py-fsrs also at most its maximum (fsrs-rs leaves that to Anki)
            expected = min(max(1.0, chosen.interval), scheduler.maximum_interval)
            assert abs(interval - expected) <= 0.5 + 1e-4 * expected, (history, rating)
            same += interval == round(expected)
            compared += 1
    assert compared > 1000
    assert same / compared > 0.995  # the rest: f32 and f64 rounding a near-exact half differently


def test_predicted_recall_is_the_schedulers_retrievability():
    """cardlab's fast predictions (fsrs-rs states) equal py-fsrs' retrievability with the study steps."""
    scheduler = fsrs.Scheduler(parameters=FORGETFUL, enable_fuzzing=False)  # 1 and 10 minute steps
    rng = random.Random(7)
    histories = [generated_history(rng, scheduler) for _ in range(200)]
    cards = [to_reviews(history) for history in histories]
    scored = scored_answers(cards, [[(ms(t), r) for t, r in history] for history in histories])
    predicted = dict(zip(((s.card, s.position) for s in scored), predict(cards, scored, FORGETFUL)))
    assert len(predicted) > 300
    for index, history in enumerate(histories):
        card = fsrs.Card(card_id=0, due=START)
        for position, (moment, rating) in enumerate(history):
            if (index, position) in predicted:
                expected = scheduler.get_card_retrievability(card, moment)
                assert predicted[(index, position)] == pytest.approx(expected, rel=1e-4)
            card, _ = scheduler.review_card(card, fsrs.Rating(rating), review_datetime=moment)
