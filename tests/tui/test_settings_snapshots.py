"""Snapshots of the settings screen, the custom-study dialog and a toast over the study screen.

Regenerate after an intended change with `pytest tests/tui/test_settings_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests.tui.study_helpers import SAMPLE_PACK, SIZE, fixed_clock, make_home
from tests.tui.test_study_snapshots import user_packs_only
from tui.app import CardlabApp, create_app


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CardlabApp:
    monkeypatch.setattr("tui.app.discover_packs", user_packs_only)
    home = make_home(tmp_path / "home", {"sample.toml": SAMPLE_PACK})
    return create_app(home, clock=fixed_clock())


def test_settings_screen(app: CardlabApp, snap_compare) -> None:
    async def open_settings(pilot) -> None:
        pilot.app.action_settings()
        for _ in range(50):  # until the screen has filled its fields (slower on a loaded machine)
            await pilot.pause()
            if (
                pilot.app.screen.query("#setting-bury_siblings")
                and pilot.app.screen.query_one("#setting-bury_siblings", Input).value
            ):
                break
        await pilot.pause()

    assert snap_compare(app, run_before=open_settings, terminal_size=SIZE)


def test_custom_study_dialog(app: CardlabApp, snap_compare) -> None:
    assert snap_compare(app, press=["enter", "c"], terminal_size=SIZE)


def test_toast_leaves_the_grade_buttons_clear(app: CardlabApp, snap_compare) -> None:
    """Bury names the card in a toast, at the bottom right above the lab line: the question at the top
    and the answer bar below stay readable."""
    assert snap_compare(app, press=["enter", "minus", "space"], terminal_size=SIZE)
