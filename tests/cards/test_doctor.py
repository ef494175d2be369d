"""A damaged review store: a clear error naming `cardlab doctor`, which recovers every readable row."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from cards.doctor import recover
from cards.paths import Home
from cards.store import CardRow, Store
from tests.cards.test_store import a_review
from tests.faults import DAMAGE, wal_of_garbage
from tui.app import StartupError, create_app
from tui.cli import main

N = 3000  # reviews: enough for many pages, so damage hits some rows and spares others


def filled_store(path: Path) -> None:
    with Store.open(path) as store, store.transaction():
        store.add_reviews(a_review(f"q{i}", at_ms=1_000 + i) for i in range(N))
        for i in range(20):
            store.put_card_row(CardRow("demo", f"q{i}", "hash", state=2, due_ms=5_000))
    sqlite3.connect(path).execute("PRAGMA journal_mode = DELETE").close()  # fold the WAL into the file


_DAMAGE_DONE: dict[Path, str] = {}


@pytest.fixture(params=DAMAGE, ids=lambda damage: damage.__name__)
def damaged_home(request: pytest.FixtureRequest, tmp_path: Path) -> Home:
    home = Home.at(tmp_path / "home").ensure()
    filled_store(home.store_path)
    request.param(home.store_path)
    _DAMAGE_DONE[home.store_path] = request.param.__name__
    return home


def request_damage(home: Home) -> str:
    return _DAMAGE_DONE[home.store_path]


def test_stats_and_start_up_say_the_store_is_damaged_and_name_the_doctor(
    damaged_home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--home", str(damaged_home.data_dir.parent), "stats"])
    err = capsys.readouterr().err
    if code == 0:  # a damaged page that neither start-up nor stats reads does not stop them
        assert request_damage(damaged_home) in {"garbage_in_a_page", "garbage_in_an_index_page"}
        return
    assert code == 1 and "damaged" in err and "cardlab doctor" in err and "Traceback" not in err
    if request_damage(damaged_home) == "garbage_in_a_page":
        return  # stats reads every review (calibration); start-up and one answer may not touch that page
    assert "cardlab doctor" in asyncio.run(startup_or_first_answer(damaged_home))


async def startup_or_first_answer(home: Home) -> str:
    """What the app says about the store: at start-up, or (damage start-up does not read, such as an
    index page) when the first answer is saved."""
    try:
        app = create_app(home)
    except StartupError as error:
        return str(error)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.press("space", "3")
        await pilot.pause(0.3)
        return " ".join(notice.message for notice in app._notifications)


def test_doctor_recovers_the_readable_rows_and_keeps_the_damaged_file(damaged_home: Home) -> None:
    path = damaged_home.store_path
    damaged = path.read_bytes()
    report = recover(path)
    assert not report.healthy and report.problems
    assert report.backup is not None and report.backup.read_bytes() == damaged
    assert report.card_states + report.reviews > 0, "some rows are always readable here"
    assert report.reviews == N or report.lost, "whatever is missing is reported"
    with Store.open(path) as store:  # the recovered store opens and holds exactly the recovered rows
        assert store.review_count() == report.reviews
        assert len(store.card_rows()) == report.card_states
    assert recover(path).healthy


def test_cardlab_doctor_reports_what_it_did(damaged_home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(damaged_home.data_dir.parent)  # Home.at(root) puts data/ right under root
    assert main(["--home", root, "doctor"]) == 0
    out = capsys.readouterr().out
    assert "damaged:" in out and "recovered" in out and "kept at" in out
    assert main(["--home", root, "stats"]) == 0
    assert main(["--home", root, "doctor"]) == 0
    assert "is sound" in capsys.readouterr().out


def test_a_header_overwritten_loses_nothing_the_pages_still_hold(tmp_path: Path) -> None:
    from tests.faults import garbage_in_the_header

    home = Home.at(tmp_path / "home").ensure()
    filled_store(home.store_path)
    garbage_in_the_header(home.store_path)
    report = recover(home.store_path)
    assert (report.card_states, report.reviews, report.lost) == (20, N, [])


def test_a_wal_of_garbage_is_ignored_and_nothing_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = Home.at(tmp_path / "home").ensure()
    filled_store(home.store_path)
    wal_of_garbage(home.store_path)
    root = str(tmp_path / "home")
    assert main(["--home", root, "stats", "--json"]) == 0
    assert f'"reviews_total": {N}' in capsys.readouterr().out
    create_app(home)  # start-up opens the store as usual
    assert main(["--home", root, "doctor"]) == 0 and "is sound" in capsys.readouterr().out


def test_cardlab_doctor_counts_one_row_in_the_singular(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cards.doctor
    from cards.doctor import Recovery

    found = Recovery(healthy=False, problems=["page 3"], card_states=1, reviews=1, backup=tmp_path / "old")
    monkeypatch.setattr(cards.doctor, "recover", lambda path: found)
    assert main(["--home", str(tmp_path), "doctor"]) == 0
    home = Home.at(tmp_path)
    assert (
        f"recovered 1 card state and 1 review into {home.store_path}" in capsys.readouterr().out.splitlines()
    )
