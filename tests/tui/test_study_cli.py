"""`cardlab stats`, `cardlab optimize`, `cardlab study` start-up errors, and the stats widgets."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from cards.config import load_config
from cards.discover import discover_packs
from cards.schedule import StudySession
from cards.store import Store
from tests.tui.study_helpers import NOW, SAMPLE_PACK, fixed_clock, make_home
from tui.cli import main
from tui.widgets.bars import bar_cells, render_bars
from tui.widgets.heatmap import level_of, render_heatmap
from tui.widgets.safe_text import neutralize_controls, one_line


def plain(renderable: object, width: int = 120) -> str:
    console = Console(width=width, color_system=None, file=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def answer_some(home_dir: Path, answers: int) -> None:
    home = make_home(home_dir, {"sample.toml": SAMPLE_PACK})
    sample = [pack for pack in discover_packs(home)[0] if pack.id == "sample"]
    with Store.open(home.store_path) as store:
        session = StudySession(store, sample, load_config(home), clock=fixed_clock())
        for _ in range(answers):
            card = session.next_card()
            assert card is not None
            session.answer(card, 3, duration_ms=5000)


def test_stats_json_counts_reviews_overall_and_per_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer_some(tmp_path, 3)
    assert main(["--home", str(tmp_path), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["reviews_total"] == 3
    for key in ("reviews_today", "due_today", "new_today"):
        assert key in stats and key in stats["packs"]["sample"]
    assert stats["packs"]["sample"]["reviews_total"] == 3
    assert stats["packs"]["fastai-lesson4"]["reviews_total"] == 0


def test_stats_text_and_home_after_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answer_some(tmp_path, 2)
    assert main(["stats", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "reviews in all  2" in out and "sample" in out and "Due in the next 30 days" in out


def test_optimize_with_too_few_reviews_says_how_many_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer_some(tmp_path, 2)
    assert main(["--home", str(tmp_path), "optimize"]) == 1
    err = capsys.readouterr().err
    assert "more are needed" in err and "cardlab optimize" in err


def test_study_start_up_errors_exit_non_zero_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(tmp_path), "study", "no-such-pack"]) == 1
    assert "no pack with id 'no-such-pack'" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text('[pack]\nid = "x"\n', encoding="utf-8")
    assert main(["--home", str(tmp_path), "study", str(broken)]) == 1
    assert "broken.toml:" in capsys.readouterr().err
    store = make_home(tmp_path).store_path
    store.write_bytes(b"garbage" * 1000)
    assert main(["--home", str(tmp_path)]) == 1
    assert "cardlab doctor" in capsys.readouterr().err
    assert store.read_bytes() == b"garbage" * 1000  # untouched until `cardlab doctor`


def test_control_characters_are_neutralised() -> None:
    assert neutralize_controls("a\x1b[31mb\x07\r\x9b2J\tc\nd") == "a␛[31mb␇␍\ufffd2J\tc\nd"
    assert one_line(" two\n lines\x1b ") == "two lines␛"


def test_bars_scale_to_the_peak_and_never_hide_a_non_zero_day() -> None:
    assert bar_cells(8, 8, 2) == ["█", "█"]
    assert bar_cells(4, 8, 2) == [" ", "█"]
    assert bar_cells(1, 1000, 2) == [" ", "▁"]
    assert bar_cells(0, 8, 2) == [" ", " "]
    lines = plain(render_bars([0, 5, 10], height=2, bar_width=2)).splitlines()
    assert lines[0].startswith("10 │") and lines[2].startswith(" 0 └")


def test_heatmap_levels_and_layout() -> None:
    assert [level_of(n, 8) for n in (0, 1, 2, 4, 6, 8)] == [0, 1, 1, 2, 3, 4]
    today = NOW.date()  # a Thursday
    counts = {today: 8, today - timedelta(days=1): 2}
    lines = plain(render_heatmap(counts, today, weeks=2)).splitlines()
    assert lines[1].startswith("Mon ")
    rows = [line[4:] for line in lines[1:8]]
    assert [row.split()[-1] for row in rows[2:4]] == ["░", "█"]  # Wednesday 2 reviews, Thursday 8
    assert rows[4].split() == ["·"], "days after today stay blank"
    assert render_heatmap({}, date(2026, 1, 1), weeks=1).plain.count("·") >= 4


def seed_scored_history(home_dir: Path) -> None:
    """The sample pack answered on two days, so answers on the second are scored."""
    home = make_home(home_dir, {"sample.toml": SAMPLE_PACK})
    sample = [pack for pack in discover_packs(home)[0] if pack.id == "sample"]
    with Store.open(home.store_path) as store:
        for day in (NOW - timedelta(days=6), NOW - timedelta(days=3), NOW):
            session = StudySession(store, sample, load_config(home), clock=fixed_clock(day))
            while (card := session.next_card()) is not None:
                session.answer(card, 3, duration_ms=5000)


def test_stats_shows_calibration_retention_by_month_and_workload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_scored_history(tmp_path)
    assert main(["--home", str(tmp_path), "stats"]) == 0
    out = capsys.readouterr().out
    assert "Predicted vs actual recall" in out and "fsrs' default parameters" in out
    assert "True retention by month" in out and "Workload against desired retention" in out
    now_rows = [line for line in out.splitlines() if "◀ now" in line]
    assert len(now_rows) == 1 and now_rows[0].split()[0] == "90%"

    assert main(["--home", str(tmp_path), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    calibration = stats["calibration"]
    assert calibration["parameters"] == "default" and calibration["reviews"] > 0
    assert sum(b["reviews"] for b in calibration["bins"]) == calibration["reviews"]
    assert all(b["from"] <= b["predicted"] < b["to"] and 0 <= b["actual"] <= 1 for b in calibration["bins"])
    workload = stats["workload"]
    assert workload["desired_retention"] == 0.9 and 0.9 in [
        p["desired_retention"] for p in workload["points"]
    ]
    assert workload["cards"] == sum(pack["cards"] for pack in stats["packs"].values())
    months = stats["retention_by_month"]
    assert months and all(set(m) == {"month", "reviews", "retention"} for m in months)


def test_stats_without_history_says_there_is_nothing_to_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_home(tmp_path, {"sample.toml": SAMPLE_PACK})
    assert main(["--home", str(tmp_path), "stats"]) == 0
    out = capsys.readouterr().out
    assert "No answers to score yet" in out and "No reviews of cards in the review state yet" in out
    assert main(["--home", str(tmp_path), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["calibration"] is None and stats["retention_by_month"] == []
