"""`bench/study_startup.py`'s measurement works: the app and the floor app report their first paint."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.study_startup import cardlab_command, first_card_seconds, floor_command


def test_the_app_and_the_floor_report_their_first_paint_on_a_terminal(tmp_path: Path) -> None:
    python = [sys.executable]
    for command in (cardlab_command(tmp_path / "home", "fastai-lesson4", python), floor_command(python)):
        seconds, cpu_seconds = first_card_seconds(command)  # raises when no first card is reported
        assert seconds > 0 and cpu_seconds > 0
