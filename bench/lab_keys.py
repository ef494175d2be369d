"""Key presses while a lab trains flat out: the time from posting a key to its action running.

Runs the real app headless (Textual's pilot, 140x45) on a one-card pack whose lab is the test lab
`test-counting` with no delay between batches, opens the lab, starts it, then posts `o` (toggle the
overlay) --keys times, --gap seconds apart, and times each from post to handler. Goal: median < 0.1 s.
Prints one JSON object last. (tests/tui/test_lab_screen.py checks the same thing without a clock: each
key is handled while the lab is still training.)

    .venv/bin/python bench/lab_keys.py [--keys 9] [--gap 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from labs import registry  # noqa: E402
from tests.labs.fake_labs import COUNTING  # noqa: E402
from tests.tui.study_helpers import fixed_clock, make_home, write_pack  # noqa: E402
from tui.app import create_app  # noqa: E402
from tui.screens.lab import LabScreen  # noqa: E402
from tui.widgets.loss_chart import LossChart  # noqa: E402

GOAL_MEDIAN_S = 0.1
PACK = """\
[pack]
id = "labbed"
title = "Cards with labs"
version = "1.0.0"
authors = ["bench"]
description = "A card whose lab is a test lab."
format = 1

[[cards]]
id = "counting"
front = "Does the loss go down?"
back = "Yes."
lab = "test-counting"
"""


async def _wait(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the lab screen did not get there")
        await pilot.pause(0.05)


async def key_delays(folder: Path, keys: int, gap: float) -> list[float]:
    registry.add_labs(COUNTING)
    home = make_home(folder / "home")
    app = create_app(home, pack_filter=str(write_pack(folder, PACK, "labbed.toml")), clock=fixed_clock())
    delays: list[float] = []
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LabScreen)
        screen.query_one("#param-steps").value = "1000000"  # type: ignore[attr-defined]
        screen.query_one("#param-delay").value = "0.0"  # type: ignore[attr-defined]
        await pilot.press("ctrl+r")  # run (a letter would go to the focused field)
        await _wait(pilot, lambda: screen.query_one(LossChart).point_count > 100)
        handled: list[float] = []
        toggle = screen.action_toggle_overlay

        def timed_toggle() -> None:
            handled.append(time.perf_counter())
            toggle()

        screen.action_toggle_overlay = timed_toggle  # type: ignore[method-assign]
        for _ in range(keys):
            sent = time.perf_counter()
            app.post_message(events.Key("o", "o"))
            await _wait(pilot, lambda n=len(delays): len(handled) > n, timeout=10)
            delays.append(handled[-1] - sent)
            await asyncio.sleep(gap)
        assert screen.lab_run is not None
        screen.lab_run.cancel()
        await _wait(pilot, lambda: screen.lab_run is not None and screen.lab_run.done)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keys", type=int, default=9)
    parser.add_argument("--gap", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        delays = asyncio.run(key_delays(Path(folder), args.keys, args.gap))
    median = statistics.median(delays)
    print(
        f"key press to handler while a lab trains: median {median * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms"
    )
    print(
        json.dumps(
            {
                "key_delay_median_s": round(median, 4),
                "key_delay_max_s": round(max(delays), 4),
                "delays_s": [round(d, 4) for d in delays],
                "goal_median_s": GOAL_MEDIAN_S,
                "meets_goal": median < GOAL_MEDIAN_S,
            }
        )
    )


if __name__ == "__main__":
    main()
