"""The app in real terminals: what studying imports, and answers surviving `kill -9` loops in tmux."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cards.paths import Home

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0

STUDY_AND_LIST_MODULES = """
import asyncio, json, sys, tempfile
from tui.cli import build_parser
from cards.paths import Home
from tui.app import create_app

build_parser()  # every command module, as `cardlab` itself loads them

async def study():
    app = create_app(Home.at(tempfile.mkdtemp()), pack_filter="fastai-lesson4")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("space", "3", "space")
        assert app.screen.card is not None and app.screen.revealed
        assert app.store.review_count() == 1

asyncio.run(study())
print(json.dumps(sorted(sys.modules)))
"""


def test_studying_never_imports_torch_pandas_or_fsrs_rs() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STUDY_AND_LIST_MODULES], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = {name.split(".")[0] for name in json.loads(done.stdout.strip().splitlines()[-1])}
    assert "textual" in modules and "cards" in modules, "the app did not run"
    heavy = {"torch", "pandas", "fsrs_rs_python"}
    assert not modules & heavy, sorted(modules & heavy)


def cardlab_command() -> list[str]:
    installed = Path(sys.executable).parent / "cardlab"
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "tui.cli"]


class Tmux:
    """One detached tmux session on a private server, so tests never touch the user's tmux."""

    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name]
        self.target = name

    def run(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True)
        assert done.returncode == 0, f"tmux {' '.join(args[:1])}: exit {done.returncode}: {done.stderr}"
        return done.stdout

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        self.run("new-session", "-d", "-s", self.target, "-x", str(width), "-y", str(height), command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.target)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.target, *keys)

    def pane_pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", self.target, "#{pane_pid}").strip())

    def stop(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def wait_for(condition: Callable[[], bool], what: str, screen: Callable[[], str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}; the terminal shows:\n{screen()}")


def review_count(home: Home) -> int:
    if not home.store_path.exists():
        return 0
    with sqlite3.connect(home.store_path) as db:
        return db.execute("SELECT count(*) FROM review_log").fetchone()[0]


ROUNDS = 3  # kill -9 rounds in CI: each starts the app afresh on the same home


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_answers_survive_kill_9_at_random_moments_in_a_real_terminal(tmp_path: Path) -> None:
    """Each round: answer a few cards (each confirmed in the store), press one more answer and kill -9
    the app at a random moment around it, restart. Every confirmed answer is on disk, the one in flight
    is all there or not at all, and the store stays sound."""
    home = Home.at(tmp_path / "home")
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    confirmed = 0
    for round_number in range(ROUNDS):
        answered = rng.randint(1, 3)
        confirmed = _answer_then_kill(home, tmp_path, confirmed, answered, rng.uniform(0.0, 0.3), seed)
        assert _integrity(home) == "ok", f"seed {seed}, round {round_number}"

    again = subprocess.run(
        [*cardlab_command(), "--home", str(home.data_dir.parent), "stats", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={key: value for key, value in os.environ.items() if key != "CARDLAB_HOME"},
    )
    assert again.returncode == 0, again.stderr
    stats = json.loads(again.stdout)
    assert stats["reviews_total"] == confirmed == stats["packs"]["fastai-lesson4"]["reviews_today"]
    with sqlite3.connect(home.store_path) as db:
        rows = db.execute("SELECT card_id, rating FROM review_log ORDER BY id").fetchall()
    assert {rating for _, rating in rows} == {3} and len(rows) == confirmed, f"seed {seed}"


def _answer_then_kill(
    home: Home, tmp_path: Path, before: int, answers: int, kill_after_s: float, seed: int
) -> int:
    """Answer `answers` cards, start one more and kill -9 the app `kill_after_s` later; the reviews on
    disk then, checked to be every confirmed one plus at most the one in flight."""
    command = " ".join([*cardlab_command(), "--home", str(tmp_path / "home")])
    # A server of its own per round: the last round's server may still be exiting after kill-server, and
    # a new session on its socket then fails.
    tmux = Tmux(f"cardlab-test-{os.getpid()}-{before}")
    tmux.start(f"cd {ROOT} && exec env -u CARDLAB_HOME {command}")
    try:
        wait_for(lambda: "what is left to study today" in tmux.screen(), "the home screen", tmux.screen)
        tmux.keys("Enter")
        wait_for(lambda: "Show answer" in tmux.screen(), "a card", tmux.screen)
        for answered in range(before + 1, before + answers + 1):
            tmux.keys("Space")
            wait_for(lambda: "3 Good" in tmux.screen(), "the answer buttons", tmux.screen)
            tmux.keys("3")
            wait_for(
                lambda n=answered: review_count(home) == n, f"review {answered} in the store", tmux.screen
            )
        tmux.keys("Space")
        wait_for(lambda: "3 Good" in tmux.screen(), "the answer buttons", tmux.screen)
        tmux.keys("3")
        time.sleep(kill_after_s)
        pid = tmux.pane_pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not Path(f"/proc/{pid}").exists() or _is_zombie(pid), "cardlab to die", tmux.screen)
    finally:
        tmux.stop()
    on_disk = review_count(home)
    assert before + answers <= on_disk <= before + answers + 1, f"seed {seed}: {before}+{answers}: {on_disk}"
    return on_disk


def _integrity(home: Home) -> str:
    with sqlite3.connect(home.store_path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# `cardlab` with one more lab, last in the labs list: the counting test lab, slowed down so it is still
# training when the test quits.
CARDLAB_WITH_A_SLOW_LAB = """
import dataclasses, sys
from labs import registry
from labs.info import make_presets
from tests.labs.fake_labs import COUNTING
slow = make_presets(smoke={}, full={}, quick={"steps": 100_000, "delay": 0.01})
registry.add_labs(dataclasses.replace(COUNTING, presets=slow))
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def suspended(home: Home, card_id: str) -> int | None:
    if not home.store_path.exists():
        return None
    with sqlite3.connect(home.store_path) as db:
        row = db.execute("SELECT suspended FROM card_state WHERE card_id = ?", (card_id,)).fetchone()
    return row[0] if row else None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_quitting_while_a_lab_trains_saves_the_run_and_exits_0(tmp_path: Path) -> None:
    """Home → l → the lab → r, leave it running, back to the packs, q."""
    from labs.runs import scan_runs

    home = Home.at(tmp_path / "home")
    script = tmp_path / "cardlab_slow_lab.py"
    script.write_text(CARDLAB_WITH_A_SLOW_LAB)
    exit_file = tmp_path / "exit"
    command = f"{sys.executable} {script} --home {tmp_path / 'home'}; echo $? > {exit_file}; sleep 60"
    tmux = Tmux(f"cardlab-quit-{os.getpid()}")
    tmux.start(f"cd {ROOT} && env -u CARDLAB_HOME PYTHONPATH={ROOT} sh -c '{command}'")
    try:
        wait_for(lambda: "what is left to study today" in tmux.screen(), "the home screen", tmux.screen)
        tmux.keys("l")
        wait_for(lambda: "Labs: each one trains" in tmux.screen(), "the labs list", tmux.screen)
        tmux.keys("End")  # the test lab comes last
        wait_for(lambda: "A toy loop for tests." in tmux.screen(), "the test lab highlighted", tmux.screen)
        tmux.keys("Enter")
        wait_for(lambda: "Counting (test)  ·  test-counting" in tmux.screen(), "the lab screen", tmux.screen)
        tmux.keys("C-r")
        wait_for(lambda: "▶ count" in tmux.screen(), "the lab training", tmux.screen)
        tmux.keys("Escape")
        wait_for(lambda: "Keep running" in tmux.screen(), "the leave dialog", tmux.screen)
        tmux.keys("k")
        wait_for(lambda: "[running]" in tmux.screen(), "the labs list with the run", tmux.screen)
        tmux.keys("Escape")
        wait_for(lambda: "what is left to study today" in tmux.screen(), "the home screen", tmux.screen)
        tmux.keys("q")
        wait_for(
            lambda: exit_file.exists() and exit_file.read_text().strip() != "", "cardlab to exit", tmux.screen
        )
        after = tmux.screen()
    finally:
        tmux.stop()
    assert exit_file.read_text().strip() == "0", after
    assert "terminate called" not in after and "Traceback" not in after, after
    records, damaged = scan_runs(home.runs_dir)
    assert damaged == [] and [record.status for record in records] == ["cancelled"]
    assert records[0].curves["train"], "the batches before quitting are in the saved run"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_the_app_ends_when_its_terminal_closes_while_it_draws(tmp_path: Path) -> None:
    """Closing the terminal (tmux kill-server: the tty hangs up, SIGHUP and SIGCONT) right after a key that
    redraws the card and shows a toast ends the app. With Textual's own driver it resumed application mode
    on the SIGCONT, its output thread died on the dead tty, and the app waited forever on a full queue
    with the review store open (every time, in this test)."""
    command = " ".join([sys.executable, "-m", "tui.cli", "--home", str(tmp_path / "home")])
    tmux = Tmux(f"cardlab-hangup-{os.getpid()}")
    try:
        tmux.start(f"cd {ROOT} && exec env -u CARDLAB_HOME {command} study fastai-lesson4")
        wait_for(lambda: "How does transfer learning" in tmux.screen(), "the first card", tmux.screen)
        pid = tmux.pane_pid()
        time.sleep(0.2)
        tmux.keys("s")  # suspend the card: the next card and a toast are drawn
    finally:
        tmux.stop()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and not _is_zombie(pid):
        time.sleep(0.05)
    if not _is_zombie(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"cardlab kept running {WAIT_S:.0f} s after its terminal closed")


def card_states(home: Home) -> list[tuple[object, ...]]:
    with sqlite3.connect(home.store_path) as db:
        return db.execute("SELECT * FROM card_state ORDER BY pack_id, card_id").fetchall()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_a_suspended_card_is_unsuspended_in_the_browser_and_studied_again(tmp_path: Path) -> None:
    """Suspend the first card, restart, find it in the browser (`b` and the search typed in one burst: no
    card changed), unsuspend it: it is the first card again."""
    home = Home.at(tmp_path / "home")
    # The checkout's own code (cwd first on sys.path), as the pilot tests run it; the test above covers the
    # installed `cardlab` entry point.
    command = " ".join([sys.executable, "-m", "tui.cli", "--home", str(tmp_path / "home")])
    first, front = "nlp-transfer-learning", "How does transfer learning for NLP work"
    tmux = Tmux(f"cardlab-suspend-{os.getpid()}")
    try:
        tmux.start(f"cd {ROOT} && exec env -u CARDLAB_HOME {command} study fastai-lesson4")
        wait_for(lambda: front in tmux.screen(), "the first card", tmux.screen)
        tmux.keys("s")
        wait_for(lambda: suspended(home, first) == 1, "the card suspended in the store", tmux.screen)
        wait_for(lambda: front not in tmux.screen(), "the next card", tmux.screen)
    finally:
        tmux.stop()
    tmux = Tmux(f"cardlab-unsuspend-{os.getpid()}")  # the restarted app, on a fresh tmux server
    try:
        tmux.start(f"cd {ROOT} && exec env -u CARDLAB_HOME {command}")
        wait_for(lambda: "what is left to study today" in tmux.screen(), "the home screen", tmux.screen)
        before = card_states(home)
        # b, the search and Enter in one burst, as a fast typist sends them: the letters of the search
        # (s suspend, u unsuspend, b bury...) go to the search box, never to the browser's actions.
        tmux.keys("b", "/is:suspended", "Enter")
        wait_for(
            lambda: "1 card " in tmux.screen() and first in tmux.screen(), "the suspended card", tmux.screen
        )
        assert "is:suspended" in tmux.screen()
        assert card_states(home) == before, "a search keystroke changed a card"
        tmux.keys("u")
        wait_for(lambda: suspended(home, first) == 0, "the card unsuspended in the store", tmux.screen)
        tmux.keys("Escape")
        wait_for(lambda: "what is left to study today" in tmux.screen(), "the home screen again", tmux.screen)
        tmux.keys("Enter")
        wait_for(lambda: front in tmux.screen(), "the unsuspended card studied first", tmux.screen)
        tmux.keys("Space")
        wait_for(lambda: "3 Good" in tmux.screen(), "the answer buttons", tmux.screen)
        tmux.keys("3")
        wait_for(lambda: review_count(home) == 1, "its review in the store", tmux.screen)
    finally:
        tmux.stop()
    with sqlite3.connect(home.store_path) as db:
        assert db.execute("SELECT card_id FROM review_log").fetchall() == [(first,)]
