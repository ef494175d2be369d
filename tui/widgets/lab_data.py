"""The lab screen's data line: which data the next run will use, and fetching the lab's real dataset.

The line shows the choice a run would make now (`labs.data_choice.choose_data`, torch-free, the one
decision the run itself takes): the `full` preset trains on the lab's `full_data`; every other preset on
the first of its `real_data` that is in the cache, else on generated data. When a real dataset is missing, `fetch()` downloads it in a worker
thread (never on the UI thread), showing the bytes on a progress bar, and says in one line when there is no
network: the run then uses generated data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import ProgressBar, Static
from textual.worker import get_current_worker

from tui.widgets.safe_text import one_line

if TYPE_CHECKING:
    from engine.datasets.fetch import HomeLike
    from labs.info import LabInfo


@dataclass(frozen=True)
class DataPlan:
    """What the next run trains on, as one line, and the dataset `f` would fetch (None: nothing to fetch)."""

    line: str
    real: bool
    missing: str | None = None


def data_plan(info: LabInfo, preset: str, home: HomeLike) -> DataPlan | None:
    """The data the next run of `info` with `preset` uses; None for a lab that only ever generates its data."""
    from engine.datasets.catalog import format_size, get
    from labs.data_choice import choose_data
    from labs.errors import LabError

    try:
        choice = choose_data(info, preset, None, home)
    except LabError as error:  # a lab naming a dataset the catalog does not know
        return DataPlan(f"data: {error}", real=False)
    if choice.real:
        return DataPlan(f"real data: {choice.name} (cached)", real=True)
    if choice.missing is None:
        return None
    entry = get(choice.missing)
    size = format_size(entry.size)
    if choice.blocked:
        return DataPlan(
            f"the full preset trains on the real {entry.name} ({size}), "
            "which is not in the cache — press f to fetch it, or choose a smaller preset",
            real=False,
            missing=entry.name,
        )
    return DataPlan(
        f"generated data (offline fallback): the real {entry.name} ({size}) "
        "is not in the cache — press f to fetch it",
        real=False,
        missing=entry.name,
    )


class DataFetchAdvanced(Message):
    """A fetch moved on: `done` of `total` archive bytes downloaded, in `stage` (download, check, extract)."""

    def __init__(self, name: str, stage: str, done: int, total: int) -> None:
        super().__init__()
        self.name, self.stage, self.done, self.total = name, stage, done, total


class DataFetched(Message):
    """The dataset `name` was downloaded, checked and unpacked into the cache."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class DataFetchFailed(Message):
    """Fetching `name` failed; `offline` when no server could be reached at all."""

    def __init__(self, name: str, error: str, offline: bool) -> None:
        super().__init__()
        self.name, self.error, self.offline = name, error, offline


class _FetchStopped(Exception):
    """Raised from the progress callback when the worker was cancelled (the screen closed, the app quit):
    the download stops at the next chunk and its `.part` file is kept for the next fetch to resume."""


class LabDataLine(Horizontal):
    """One line under the lab's header: the data the next run uses, and a fetch's progress bar."""

    DEFAULT_CSS = """
    LabDataLine {
        height: auto;
        padding: 0 1;
        #lab-data-text { width: 1fr; height: auto; max-height: 2; }
        #lab-data-text.-real { color: $text-success; }
        #lab-data-text.-generated { color: $text-warning; }
        #data-progress { width: auto; display: none; }
        #data-bytes { width: auto; display: none; padding-left: 1; color: $text-muted; }
        &.-fetching #data-progress, &.-fetching #data-bytes { display: block; }
    }
    """

    def __init__(self, info: LabInfo, home: HomeLike, preset: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = info
        self.home = home
        self.preset = preset
        self.plan: DataPlan | None = None
        self.fetching: str | None = None  # the dataset being fetched now

    def compose(self) -> ComposeResult:
        yield Static(id="lab-data-text")
        yield ProgressBar(total=None, show_eta=False, id="data-progress")
        yield Static(id="data-bytes")

    def on_mount(self) -> None:
        self.show_for(self.preset)

    @property
    def can_fetch(self) -> bool:
        """A real dataset is missing and no fetch is under way: the screen shows `f` in its footer."""
        return self.fetching is None and self.plan is not None and self.plan.missing is not None

    # -- the line ---------------------------------------------------------------------------------

    def show_for(self, preset: str) -> None:
        """Decide again (the preset changed, a fetch ended) which data the next run uses, and say so."""
        self.preset = preset
        self.plan = data_plan(self.info, preset, self.home)
        self.display = self.plan is not None
        if self.plan is not None and self.fetching is None:  # a fetch's own line stays until it ends
            self._say(self.plan.line, real=self.plan.real)
        self._bindings_changed()

    def _say(self, line: str, *, real: bool) -> None:
        text = self.query_one("#lab-data-text", Static)
        text.update(Text(one_line(line)))
        text.set_class(real, "-real")
        text.set_class(not real, "-generated")

    def _bindings_changed(self) -> None:
        if self.is_attached:
            self.screen.refresh_bindings()

    # -- fetching ---------------------------------------------------------------------------------

    def fetch(self) -> None:
        """Fetch the missing real dataset in a worker thread; messages report how it goes."""
        if not self.can_fetch:
            return
        assert self.plan is not None and self.plan.missing is not None
        from engine.datasets.catalog import format_size, get

        entry = get(self.plan.missing)
        self.fetching = entry.name
        self.add_class("-fetching")
        self.query_one("#data-progress", ProgressBar).update(total=entry.size, progress=0)
        self._show_bytes(0, entry.size)
        self._say(f"fetching {entry.name} ({format_size(entry.size)})…", real=False)
        self._bindings_changed()
        self._fetch_in_thread(entry.name)

    @work(thread=True, exclusive=True, group="lab-data-fetch")
    def _fetch_in_thread(self, name: str) -> None:
        from engine.datasets.fetch import NoNetwork, fetch

        worker = get_current_worker()
        stage = ["download"]
        reported = [-1]  # the last percentage posted: at most about a hundred messages per fetch

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise _FetchStopped
            percent = 100 * done // max(total, 1)
            if percent != reported[0]:
                reported[0] = percent
                self.post_message(DataFetchAdvanced(name, stage[0], done, total))

        def on_stage(now: str) -> None:
            stage[0] = now
            if worker.is_cancelled:
                raise _FetchStopped
            if now != "download":
                self.post_message(DataFetchAdvanced(name, now, -1, -1))

        try:
            fetch(name, self.home, progress=progress, on_stage=on_stage)
        except _FetchStopped:
            return
        except NoNetwork as error:
            self.post_message(DataFetchFailed(name, str(error), offline=True))
        except Exception as error:  # any failure is a line on screen, never the end of the app
            self.post_message(DataFetchFailed(name, str(error) or type(error).__name__, offline=False))
        else:
            self.post_message(DataFetched(name))

    def on_data_fetch_advanced(self, message: DataFetchAdvanced) -> None:
        if message.name != self.fetching:
            return
        if message.done >= 0:
            bar = self.query_one("#data-progress", ProgressBar)
            bar.update(total=max(message.total, 1), progress=message.done)
            self._show_bytes(message.done, message.total)
        else:
            doing = {"check": "checking", "extract": "unpacking"}.get(message.stage, message.stage)
            self._say(f"{doing} {message.name}…", real=False)

    def on_data_fetched(self, message: DataFetched) -> None:
        self._fetch_ended()
        self.show_for(self.preset)
        self.notify(f"{message.name} is in the cache: the next run uses the real data", markup=False)

    def on_data_fetch_failed(self, message: DataFetchFailed) -> None:
        self._fetch_ended()
        self.show_for(self.preset)
        if message.offline:
            self._say("no network: the run will use generated data — f tries again", real=False)
        else:
            self._say(
                f"could not fetch {message.name}: the run will use generated data ({message.error})",
                real=False,
            )
            self.notify(
                one_line(message.error),
                title=f"fetching {message.name} failed",
                severity="error",
                markup=False,
            )

    def _fetch_ended(self) -> None:
        self.fetching = None
        self.remove_class("-fetching")

    def _show_bytes(self, done: int, total: int) -> None:
        from engine.datasets.catalog import format_size

        self.query_one("#data-bytes", Static).update(f"{format_size(done)} / {format_size(total)}")
