"""The app under SIGTERM or SIGHUP during a lab: as on q, the partial run is saved as cancelled and nothing
of the lab outlives the app, which exits 128 + the signal's number."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.tui.study_helpers import run_async
from tests.tui.test_lab_quit import assert_stopped_and_saved, start_long_run
from tests.tui.test_lab_screen import fake_labs, lab_app, wait_until  # noqa: F401


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_saves_the_running_lab_and_exits(tmp_path: Path, signum: int) -> None:
    previous = signal.signal(signum, lambda *_: None)  # were the app's handler missing, pytest lives on

    @run_async
    async def scenario() -> None:
        app = lab_app(tmp_path)
        async with app.run_test(size=(140, 45)) as pilot:
            run = (await start_long_run(app, pilot)).lab_run
            os.kill(os.getpid(), signum)
            await wait_until(pilot, lambda: app._exit)
        assert app.return_code == 128 + signum and run is not None
        assert_stopped_and_saved(app, run)

    try:
        scenario()
    finally:
        signal.signal(signum, previous)
