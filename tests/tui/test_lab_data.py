"""The lab screen's data line: real data when cached, `f` fetches it from a local server with a progress bar,
no network is one line, and a lab without real data shows no line."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.widgets import ProgressBar, Select

from engine.datasets import fetch as fetch_module
from engine.datasets.catalog import CATALOG, format_size
from engine.datasets.fetch import is_fetched, part_path
from labs import registry
from tests.engine.dataset_archives import (
    LAYOUTS,
    ArchiveServer,
    closed_port_url,
    entry_for,
    serving,
    tgz,
)
from tests.labs.fake_labs import COUNTING
from tests.tui.study_helpers import run_async
from tests.tui.test_lab_screen import lab_app, open_lab, wait_until
from tui.app import CardlabApp
from tui.screens.lab import LabScreen
from tui.widgets.lab_data import DataFetchAdvanced, DataFetched, LabDataLine, data_plan

REAL = dataclasses.replace(
    COUNTING, id="test-real-data", real_data=("imdb_sample",), full_data="adult_sample"
)
# Random bytes do not compress: the archive takes several chunks to download, so the bar moves in steps.
ARCHIVE = tgz({**LAYOUTS["imdb_sample"], "imdb_sample/noise.bin": random.Random(0).randbytes(300_000)})


@pytest.fixture(autouse=True)
def labs() -> Iterator[None]:
    with registry.extra_labs(COUNTING, REAL):
        yield


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ArchiveServer]:
    with serving() as state:
        entry = entry_for("imdb_sample", ARCHIVE, state.url("imdb_sample.tgz"))
        state.files["imdb_sample.tgz"] = ARCHIVE
        monkeypatch.setitem(CATALOG, "imdb_sample", entry)
        yield state


def data_line(screen: LabScreen) -> str:
    return str(screen.query_one("#lab-data-text").render())


def fetch_offered(screen: LabScreen) -> bool:
    return bool(screen.check_action("fetch_data", ()))


@run_async
async def test_f_fetches_the_real_data_with_a_moving_bar_and_the_line_turns_real(
    tmp_path: Path, server: ArchiveServer
) -> None:
    app = lab_app(tmp_path)
    seen: list[Message] = []
    async with app.run_test(size=(140, 45), message_hook=seen.append) as pilot:
        screen = await open_lab(app, pilot, REAL.id)
        assert data_line(screen) == (
            f"generated data (offline fallback): the real imdb_sample ({format_size(len(ARCHIVE))}) "
            "is not in the cache — press f to fetch it"
        )
        assert "Fetch" in _footer_keys(screen)
        assert fetch_offered(screen)
        await pilot.press("f")
        await wait_until(pilot, lambda: any(isinstance(m, DataFetched) for m in seen))
        await pilot.pause()

        assert data_line(screen) == "real data: imdb_sample (cached)"
        assert "-real" in screen.query_one("#lab-data-text").classes
        assert not fetch_offered(screen)  # nothing left to fetch: f leaves the footer
        assert "Fetch" not in _footer_keys(screen)
        assert is_fetched("imdb_sample", app.home)
        steps = [m.done for m in seen if isinstance(m, DataFetchAdvanced) and m.done >= 0]
        assert len(steps) > 2 and steps == sorted(steps) and steps[-1] == len(ARCHIVE)
        bar = screen.query_one("#data-progress", ProgressBar)
        assert bar.total == len(ARCHIVE) and bar.progress == len(ARCHIVE)
        assert not screen.query_one("#data-progress").display  # the bar goes once the fetch is done
    assert [path for path, _ in server.requests] == ["imdb_sample.tgz"]


@run_async
async def test_no_network_is_one_line_and_the_screen_stays_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CATALOG, "imdb_sample", entry_for("imdb_sample", ARCHIVE, closed_port_url("x.tgz")))
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_lab(app, pilot, REAL.id)
        await pilot.press("f")
        await wait_until(pilot, lambda: "no network" in data_line(screen))
        assert data_line(screen).startswith("no network: the run will use generated data")
        assert "\n" not in data_line(screen)
        assert fetch_offered(screen)  # f tries again
        assert not is_fetched("imdb_sample", app.home)
        screen.query_one("#preset", Select).value = "full"  # the screen still answers, and the line follows
        await wait_until(pilot, lambda: "full preset" in data_line(screen))
        assert "adult_sample" in data_line(screen) and fetch_offered(screen)
        assert isinstance(app.screen, LabScreen)


@run_async
async def test_a_server_error_is_one_line_and_a_notice(tmp_path: Path, server: ArchiveServer) -> None:
    server.files.clear()  # the server answers 404
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_lab(app, pilot, REAL.id)
        await pilot.press("f")
        await wait_until(pilot, lambda: "could not fetch" in data_line(screen))
        assert "HTTP 404" in data_line(screen) and "generated data" in data_line(screen)
        assert any("HTTP 404" in str(n.message) for n in app._notifications)
        assert fetch_offered(screen)


@contextmanager
def stalling_server(gate: threading.Event) -> Iterator[str]:
    """Serves ARCHIVE's first chunks, then waits for `gate` before sending the rest."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(ARCHIVE)))
            self.end_headers()
            self.wfile.write(ARCHIVE[:150_000])
            self.wfile.flush()
            gate.wait(30)
            with suppress(OSError):
                self.wfile.write(ARCHIVE[150_000:])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/imdb_sample.tgz"
    finally:
        gate.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@run_async
async def test_leaving_the_lab_mid_fetch_stops_the_download_and_keeps_its_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, ended = threading.Event(), threading.Event()
    raised: list[BaseException] = []
    real_fetch = fetch_module.fetch

    def watched_fetch(*args: Any, **kwargs: Any) -> Path:
        try:
            return real_fetch(*args, **kwargs)
        except BaseException as error:
            raised.append(error)
            raise
        finally:
            ended.set()

    monkeypatch.setattr(fetch_module, "fetch", watched_fetch)
    with stalling_server(gate) as url:
        monkeypatch.setitem(CATALOG, "imdb_sample", entry_for("imdb_sample", ARCHIVE, url))
        app = lab_app(tmp_path)
        async with app.run_test(size=(140, 45)) as pilot:
            screen = await open_lab(app, pilot, REAL.id)
            await pilot.press("f")
            bar = screen.query_one("#data-progress", ProgressBar)
            await wait_until(pilot, lambda: (bar.progress or 0) > 0)
            assert not fetch_offered(screen)  # no second fetch while one runs
            await pilot.press("escape")  # back: the screen's fetch worker is cancelled
            assert not isinstance(app.screen, LabScreen)
            gate.set()  # the next chunk arrives, and the download stops there
            await wait_until(pilot, ended.is_set)
            assert [type(error).__name__ for error in raised] == ["_FetchStopped"]
            assert not is_fetched("imdb_sample", app.home)
            assert part_path("imdb_sample", app.home).is_file()  # the next fetch resumes it


@run_async
async def test_a_lab_without_real_data_shows_no_line_and_no_fetch_key(tmp_path: Path) -> None:
    app: CardlabApp = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_lab(app, pilot, COUNTING.id)
        assert not screen.query_one(LabDataLine).display
        assert not fetch_offered(screen)
        assert "Fetch" not in _footer_keys(screen)


def _footer_keys(screen: LabScreen) -> str:
    return " ".join(
        binding.description for _, binding, enabled, _ in screen.active_bindings.values() if enabled
    )


def test_the_plan_follows_the_preset_and_the_cache(tmp_path: Path, server: ArchiveServer) -> None:
    from engine.datasets.fetch import fetch

    home = tmp_path / "datasets"
    assert data_plan(COUNTING, "quick", home) is None
    generated = data_plan(REAL, "quick", home)
    assert generated is not None and not generated.real and generated.missing == "imdb_sample"
    full = data_plan(REAL, "full", home)
    assert full is not None and full.missing == "adult_sample" and "full preset" in full.line
    fetch("imdb_sample", home)
    real = data_plan(REAL, "smoke", home)
    assert real is not None and real.real and real.missing is None
    assert real.line == "real data: imdb_sample (cached)"
