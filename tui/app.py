"""The cardlab Textual app: one factory, `create_app`, shared by the `cardlab` command and the tests.

The app is thin: it loads the packs, opens the review store, holds the `StudySession` and pushes
screens. Everything that decides what to study lives in `cards`; nothing here imports torch or pandas.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape
from textual.screen import Screen

from cards.config import Config, load_config
from cards.discover import discover_packs, pack_cache_dir
from cards.files import write_atomic
from cards.pack import Pack, load_pack
from cards.paths import Home
from cards.schedule import StudySession, utc_now
from cards.store import Store
from tui.widgets.safe_text import one_line

Clock = Callable[[], datetime]

# `bench/study_startup.py` sets this to a file path: the app writes the wall-clock time at which the
# first card is on screen into it, then exits.
BENCH_FIRST_CARD_ENV = "CARDLAB_BENCH_FIRST_CARD"


class StartupError(Exception):
    """The app cannot start (unknown pack, unreadable store...); the message is for the user."""


@dataclass(frozen=True)
class Library:
    """What the app studies: the packs that loaded and the problems of those that did not."""

    packs: tuple[Pack, ...]
    errors: tuple[str, ...]  # one "file:line: message" line per problem

    def pack(self, pack_id: str) -> Pack | None:
        return next((pack for pack in self.packs if pack.id == pack_id), None)


class CardlabCommands(Provider):
    """The command palette (ctrl+p): study a pack, stats, keys, labs."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        assert isinstance(app, CardlabApp)
        commands: list[tuple[str, Callable[[], object], str]] = [
            (f"Study {one_line(pack.title)}", _bind(app.action_study, pack.id), f"pack {one_line(pack.id)}")
            for pack in app.library.packs
        ]
        commands += [
            ("Browse cards", app.action_browse, "search, sort, suspend, unsuspend, reset; history"),
            ("Statistics", app.action_stats, "reviews, retention, forecast, heatmap"),
            ("Keys", app.action_help, "every key of every screen"),
            ("Packs", app.action_home, "back to the list of packs"),
        ]
        commands += [
            (f"Lab: {one_line(title)}", _bind(app.action_open_lab, lab_id, None), "run a training lab")
            for lab_id, title in _lab_titles()
        ]
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(Content(name), callback, text=name, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:  # highlight() parses markup: escape pack titles so they show as written
                yield Hit(score, matcher.highlight(escape(name)), callback, text=name, help=help_text)


def _bind(function: Callable[..., object], *args: object) -> Callable[[], object]:
    return lambda: function(*args)


def _lab_titles() -> list[tuple[str, str]]:
    """(id, title) of every lab; none when the labs package is not installed."""
    try:
        from labs.registry import all_labs
    except ImportError:
        return []
    return [(info.id, info.title) for info in all_labs()]


class CardlabApp(App[int]):
    TITLE = "cardlab"
    COMMANDS = App.COMMANDS | {CardlabCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Keys", id="app.help", tooltip="Show every key"),
    ]

    def __init__(
        self,
        home: Home,
        library: Library,
        store: Store,
        config: Config,
        clock: Clock | None = None,
        start_pack: str | None = None,
    ) -> None:
        super().__init__()
        self.home = home
        self.library = library
        self.store = store
        self.config = config
        self.clock = clock
        self.start_pack = start_pack
        self._bench_output = os.environ.get(BENCH_FIRST_CARD_ENV)

    def now(self) -> datetime:
        return (self.clock or utc_now)()

    def new_session(self, packs: tuple[Pack, ...] | None = None) -> StudySession:
        """A study session over `packs` (default: all of them), on this app's store and clock."""
        chosen = list(self.library.packs if packs is None else packs)
        return StudySession(self.store, chosen, self.config, clock=self.clock or utc_now)

    def on_mount(self) -> None:
        if self.start_pack is not None:
            self.action_study(self.start_pack)  # the home screen is built only when the user goes back
        else:
            self.action_home()

    def on_unmount(self) -> None:
        self.store.close()

    def action_study(self, pack_id: str) -> None:
        from tui.screens.study import StudyScreen

        pack = self.library.pack(pack_id)
        if pack is None:
            self.notify(f"no pack {one_line(pack_id)!r}", severity="error", markup=False)
            return
        self.push_screen(StudyScreen(pack))

    def action_browse(self, query: str = "", done: Callable[[bool | None], None] | None = None) -> None:
        """The card browser on `query`; `done(changed)` runs when it closes (changed: a card was acted on)."""
        from tui.screens.browser import BrowserScreen

        self.push_screen(BrowserScreen(query), callback=done)

    def action_stats(self) -> None:
        from tui.screens.stats import StatsScreen

        self.push_screen(StatsScreen())

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_home(self) -> None:
        """Back to the list of packs, building it if the app started straight into a study screen."""
        from tui.screens.home import HomeScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        if not isinstance(self.screen, HomeScreen):
            if len(self.screen_stack) > 1:
                self.switch_screen(HomeScreen())
            else:
                self.push_screen(HomeScreen())

    def action_labs(self) -> None:
        from tui.screens.labs import LabsScreen

        self._know_pack_labs()
        self.push_screen(LabsScreen(self.home))

    def action_open_lab(self, lab_id: str, card_id: str | None = None) -> None:
        from tui.screens.lab import LabScreen

        self._know_pack_labs()
        try:
            screen = LabScreen(lab_id=lab_id, home=self.home, card_id=card_id)
        except ValueError as err:  # labs.registry.LabError: a lab id this version does not know
            self.notify(one_line(str(err)), severity="error", markup=False)
            return
        self._push_if_trusted(screen, lab_id)

    def _know_pack_labs(self) -> None:
        """The labs of the user's packs, read (torch-free) the first time a lab is opened."""
        if getattr(self, "_pack_labs_known", False):
            return
        self._pack_labs_known = True
        from labs.packlabs import register_home_pack_labs

        for problem in register_home_pack_labs(self.home):
            self.notify(one_line(str(problem)), severity="warning", markup=False)

    def _push_if_trusted(self, screen: Screen, lab_id: str) -> None:
        """A pack's lab opens once the student trusts its pack (a dialog shows its files and sha256s)."""
        from labs.packlabs import TrustStore, pack_trust
        from labs.registry import get_lab, pack_of

        pack_id = pack_of(lab_id)
        found = pack_trust(self.home, pack_id) if pack_id else None
        store = TrustStore(self.home.data_dir)
        if pack_id is None or found is None or store.is_trusted(pack_id, found[0]):
            self.push_screen(screen)
            return
        from tui.screens.trust import TrustLab

        def answered(trust: bool | None) -> None:
            if trust:
                store.trust(pack_id, found[0])
                self.push_screen(screen)

        folder = get_lab(lab_id).folder or Path()
        self.push_screen(TrustLab(pack_id, folder, found[1]), callback=answered)

    def first_card_shown(self) -> None:
        """Called by the study screen once a card is painted; ends a start-up benchmark run."""
        if self._bench_output:
            write_atomic(self._bench_output, repr(time.time()))
            self._bench_output = None
            self.exit(0)


def _load_library(home: Home, pack_filter: str | None) -> tuple[Library, str | None]:
    """All discovered packs, plus the pack file named by `pack_filter` when it is a path."""
    packs, problems = discover_packs(home)
    library = Library(tuple(packs), tuple(str(problem) for problem in problems))
    if pack_filter is None:
        return library, None
    path = Path(pack_filter).expanduser()
    if pack_filter.endswith(".toml") or path.is_file():
        from cards.pack import PackError

        try:
            extra = load_pack(path, cache_dir=pack_cache_dir(home))
        except PackError as err:
            raise StartupError(str(err)) from None
        except OSError as err:
            raise StartupError(f"{path}: cannot read the pack: {err.strerror or err}") from None
        others = tuple(pack for pack in library.packs if pack.id != extra.id)
        return Library(others + (extra,), library.errors), extra.id
    if library.pack(pack_filter) is None:
        known = ", ".join(pack.id for pack in library.packs) or "none"
        raise StartupError(
            f"no pack with id {pack_filter!r} (packs: {known}); give a pack id or a .toml file"
        )
    return library, pack_filter


def create_app(home: Home, pack_filter: str | None = None, clock: Clock | None = None) -> CardlabApp:
    """The app on `home`: every pack, or straight into studying `pack_filter` (a pack id or a TOML path).

    Raises StartupError with a message for the user when the settings, the pack or the store are
    unusable; the store file is then left exactly as it was.
    """
    from cards.config import ConfigError
    from cards.store import StoreError

    home.ensure()
    try:
        config = load_config(home)
    except ConfigError as err:
        raise StartupError(str(err)) from None
    library, start_pack = _load_library(home, pack_filter)
    try:
        store = Store.open(home.store_path)
    except StoreError as err:
        raise StartupError(str(err)) from None
    return CardlabApp(home, library, store, config, clock=clock, start_pack=start_pack)
