"""Snapshots (pytest-textual-snapshot) of the home, study (front and back), stats, browser and card detail screens.

A fixed clock, UTC study days, fixed review durations and only the test's own pack (the bundled packs
are left out so editing them does not move these pictures) make every run draw the same screens.
Regenerate after an intended change with `pytest tests/tui/test_study_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from cards.config import load_config
from cards.discover import user_pack_paths
from cards.pack import Pack, PackError, load_pack
from cards.paths import Home
from cards.schedule import StudySession
from cards.store import Store
from tests.tui.study_helpers import NOW, SAMPLE_PACK, SIZE, fixed_clock, make_home
from tui.app import CardlabApp, create_app

# (days before NOW, answers given that day) for a history the heatmap and forecast can show.
HISTORY = ((40, 3), (21, 4), (9, 5), (8, 2), (3, 6), (1, 4))
RATINGS = (3, 3, 4, 2, 3, 1)


def user_packs_only(home: Home, known_labs: object = None) -> tuple[list[Pack], list[PackError]]:
    packs, errors = [], []
    for path in user_pack_paths(home):
        try:
            packs.append(load_pack(path))
        except PackError as error:
            errors.append(error)
    return packs, errors


def seed_history(home: Home) -> None:
    """Answer cards on several past days with fixed ratings and durations."""
    packs, _ = user_packs_only(home)
    config = replace(load_config(home), bury_siblings=False)  # the history these pictures were drawn from
    with Store.open(home.store_path) as store:
        for days_ago, answers in HISTORY:
            session = StudySession(store, packs, config, clock=fixed_clock(NOW - timedelta(days=days_ago)))
            for index in range(answers):
                card = session.next_card()
                if card is None:
                    break
                session.answer(card, RATINGS[index % len(RATINGS)], duration_ms=4000 + 500 * index)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CardlabApp:
    monkeypatch.setattr("tui.app.discover_packs", user_packs_only)
    home = make_home(tmp_path / "home", {"sample.toml": SAMPLE_PACK})
    seed_history(home)
    return create_app(home, clock=fixed_clock())


def test_home_screen(app: CardlabApp, snap_compare) -> None:
    assert snap_compare(app, terminal_size=SIZE)


def test_study_front(app: CardlabApp, snap_compare) -> None:
    assert snap_compare(app, press=["enter"], terminal_size=SIZE)


def test_study_back(app: CardlabApp, snap_compare) -> None:
    assert snap_compare(app, press=["enter", "space"], terminal_size=SIZE)


async def open_stats_and_wait(pilot) -> None:
    """The stats screen once its worker (calibration, workload) is done: its panels set the scroll height."""
    await pilot.press("s")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_stats_screen(app: CardlabApp, snap_compare) -> None:
    assert snap_compare(app, run_before=open_stats_and_wait, terminal_size=SIZE)


def test_stats_screen_calibration_and_workload(app: CardlabApp, snap_compare) -> None:
    """The lower half: predicted vs actual recall, retention by month, workload with the setting marked."""
    assert snap_compare(app, run_before=open_stats_and_wait, terminal_size=(120, 64))


def test_browser_screen(app: CardlabApp, snap_compare) -> None:
    assert snap_compare(app, press=["b", "space"], terminal_size=SIZE)


def test_card_detail(app: CardlabApp, snap_compare, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The most reviewed card: its facts, text, retrievability chart and history."""
    monkeypatch.setenv("HOME", str(tmp_path))  # the file shows as ~/home/data/packs/sample.toml
    press = ["b", "slash", *"card:cold-start", "enter", "enter"]
    assert snap_compare(app, press=press, terminal_size=SIZE)
