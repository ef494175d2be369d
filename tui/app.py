"""The cardlab Textual app: one factory, `create_app`, shared by the `cardlab` command and the tests.

The app is thin: it loads the packs, opens the review store, holds the services the screens use
(`tui.services`: packs, store, settings, clock, lab runs) and navigates between screens through its
actions. Everything that decides what to study lives in `cards`; nothing here imports torch or pandas.
Quitting stops every lab still training and saves its partial run first.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.driver import Driver
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer

from cards.config import Config, load_config
from cards.discover import discover_packs, linked_pack_paths, pack_cache_dir, user_pack_paths
from cards.files import write_atomic
from cards.pack import Pack, PackError, Problem, load_pack
from cards.paths import Home
from cards.store import Store
from cards.watch import FileWatch
from tui.services import Clock, Library, Services
from tui.store_errors import ShowsStoreErrors
from tui.widgets.safe_text import one_line

if TYPE_CHECKING:
    from tui.screens.study import StudyScreen

# `bench/study_startup.py` sets this to a file path: the app writes the wall-clock time at which the
# first card is on screen into it, then exits.
BENCH_FIRST_CARD_ENV = "CARDLAB_BENCH_FIRST_CARD"
# How often the app looks for saved pack files (stat polling, see cards/watch.py for why): a saved card
# shows its new text within this long plus the reload.
WATCH_INTERVAL_S = 0.5
# A lab screen shown this long, with no lab running, gets a lab worker waiting for its run (`labs.warm`):
# a lab screen only passed through starts none.
WARM_AFTER_S = 1.0


class LabRunEnded(Message):
    """A lab run ended (posted from the thread reading that lab)."""


class StartupError(Exception):
    """The app cannot start (unknown pack, unreadable store...); the message is for the user."""


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
            (
                f"Custom study {one_line(pack.title)}",
                _bind(app.action_custom_study, pack.id),
                "study ahead, forgotten cards, extra new cards, cram",
            )
            for pack in app.library.packs
        ]
        commands += [
            ("Browse cards", app.action_browse, "search, sort, suspend, unsuspend, reset; history"),
            ("Statistics", app.action_stats, "reviews, retention, forecast, heatmap"),
            ("Settings", app.action_settings, "daily limits, steps, retention, siblings (config.toml)"),
            ("Keys", app.action_help, "the keys of this screen"),
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
    """(id, title) of every lab, from their lab.toml files (torch-free)."""
    from labs.registry import all_labs

    return [(info.id, info.title) for info in all_labs()]


class CardlabApp(ShowsStoreErrors, App[int]):
    TITLE = "cardlab"
    # Toasts at the top right, under the counts line: at the bottom they covered the answer buttons.
    CSS = """
    ToastRack { dock: top; align: right top; margin-top: 1; margin-bottom: 0; }
    """
    # The study screen's stylesheet is read with the app's: a screen's CSS_PATH read when the screen is
    # first pushed re-parses the whole stylesheet and restyles every widget, a tenth of the start-up.
    CSS_PATH = ["screens/study.tcss"]
    COMMANDS = App.COMMANDS | {CardlabCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Keys", id="app.help", tooltip="Show the keys of this screen"),
    ]

    def __init__(
        self,
        home: Home,
        library: Library,
        store: Store,
        config: Config,
        clock: Clock | None = None,
        start_pack: str | None = None,
        watch_interval: float | None = WATCH_INTERVAL_S,
    ) -> None:
        super().__init__()
        self.services = Services(home, library, store, config, clock)
        self.start_pack = start_pack
        self._bench_output = os.environ.get(BENCH_FIRST_CARD_ENV)
        self.first_frame_out = False  # Textual's Ready: the first frame has reached the terminal
        self._warming = False  # keeping a lab worker warm (`_keep_a_lab_worker_warm`)
        self._warm_check: Timer | None = None
        self.watch_interval = watch_interval  # None: pack files are not watched
        self._pack_files = FileWatch(library.files())
        # The user's and linked pack files at start: one listed later is new (added from the shell).
        self._listed = set(self._pack_file_listing()) if watch_interval is not None else set()

    @property
    def home(self) -> Home:
        return self.services.home

    @property
    def library(self) -> Library:
        return self.services.library

    @library.setter
    def library(self, library: Library) -> None:  # a pack file was saved: its new version, or its problems
        self.services.library = library

    @property
    def store(self) -> Store:
        return self.services.store

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        if driver.__module__ == "textual.drivers.linux_driver" and driver.__name__ == "LinuxDriver":
            from tui.terminal import HangupSafeDriver  # imports termios: not on Windows

            return HangupSafeDriver
        return driver  # Windows', or one the environment chose (TEXTUAL_DRIVER, textual-serve)

    def on_mount(self) -> None:
        self._handle_ending_signals()
        if self.start_pack is not None:  # the home screen is built only when the user goes back
            # Right after Textual's start-up, not inside it: pushed here, the study screen resumed within the
            # start-up batch, which threw its first full frame away, and the card then waited for the screen's
            # 60 fps update timer (16 ms, a tenth of start-up). Pushed after, it draws as it resumes.
            self.call_later(self.action_study, self.start_pack)
        else:
            self.action_home()
        if self.watch_interval is not None:
            self.set_interval(self.watch_interval, self.check_pack_files, name="watch packs")

    def on_ready(self) -> None:
        """Start-up is done and the first frame is on its way (Textual's Ready): a study screen draws what
        it put off for it once that frame is out (after the refresh; during start-up, Textual ran such
        callbacks before the first frame)."""
        import gc

        from tui.screens.study import StudyScreen

        gc.enable()  # off during start-up (tui.commands.study.open_app)
        self.first_frame_out = True
        for screen in self.screen_stack:
            if isinstance(screen, StudyScreen):
                screen.call_after_refresh(screen.after_first_frame)

    # -- live packs -----------------------------------------------------------------------------

    def check_pack_files(self) -> None:
        """Reload every pack file saved since the last check, and load the pack files that appeared
        (`cardlab pack add`, `import anki`, a new link or a new file in a linked folder)."""
        for path in self._pack_files.changed():
            self._reload_pack_file(path)
        for path in self._new_pack_files():
            self._pack_files.add([path])
            self._reload_pack_file(path, new=True)
            self._pack_labs_known = False  # a pack folder's labs: read again when a lab is next opened

    def _pack_file_listing(self) -> list[Path]:
        """The user's and the linked pack files now (a glob of the packs folder and a read of links.json:
        cheap enough for every check)."""
        return user_pack_paths(self.home) + linked_pack_paths(self.home)

    def _new_pack_files(self) -> list[Path]:
        """The pack files listed now that were neither listed before nor read by the app."""
        read = set(self._pack_files.paths)
        found = [path for path in self._pack_file_listing() if path not in self._listed]
        self._listed.update(found)
        return [path for path in found if path not in read]

    def _reload_pack_file(self, path: Path, new: bool = False) -> None:
        """Load `path` again (or for the first time, `new`): its new version replaces the old one
        everywhere, or, when it no longer checks, its problems are shown while the last good version
        stays loaded."""
        old = self.library.pack_at(path)
        try:
            pack = load_pack(path, cache_dir=pack_cache_dir(self.home))
            self._check_replaceable(pack, old)
        except PackError as error:
            self.library = self.library.with_problems(path, error.problems)
            self._broadcast(old.id if old else None, None)
            self._notify_problems(path, old, error.problems, new)
            return
        self.library = self.library.with_pack(pack)
        self._follow_renames(pack)
        self._broadcast(pack.id, pack)
        verb = "added" if new else "reloaded"
        self.notify(f"{verb} {one_line(pack.title)}", timeout=3, markup=False)

    def _follow_renames(self, pack: Pack) -> None:
        """Move the history its `was` keys name (before any screen reads the store again), and point out
        renames that lack one."""
        from cards.renames import apply_renames, rename_hints
        from cards.store import StoreError

        try:
            moved = apply_renames(self.store, pack)
            hints = rename_hints(self.store, pack)
        except StoreError as err:
            self.notify(one_line(str(err)), title="Not saved", severity="error", timeout=15, markup=False)
            return
        for move in moved:
            reviews = f"{move.reviews} review of" if move.reviews == 1 else f"{move.reviews} reviews of"
            belong = "belongs" if move.reviews == 1 else "belong"
            text = f"{reviews} `{move.old}` now {belong} to `{move.new}`"
            self.notify(one_line(text), title="History moved", timeout=8, markup=False)
        for hint in hints:
            self.notify(
                one_line(hint.message), title="Renamed?", severity="warning", timeout=20, markup=False
            )

    def _check_replaceable(self, pack: Pack, old: Pack | None) -> None:
        """A saved file whose pack id changed, or now clashes with another pack, is not swapped in:
        review history belongs to pack ids."""
        from cards.pack import pack_id_line

        if old is not None and pack.id != old.id:
            message = (
                f'the pack id changed from "{old.id}" to "{pack.id}": the loaded version stays; restart '
                "cardlab to study it under its new id (review history is kept per pack id)"
            )
            raise PackError([Problem(pack.path, pack_id_line(pack.path), None, message)])
        other = self.library.pack(pack.id)
        if other is not None and other.path != pack.path:
            from cards.pack import duplicate_pack_message

            message = duplicate_pack_message(pack.id, other.path, pack_id_line(other.path))
            raise PackError([Problem(pack.path, pack_id_line(pack.path), None, message)])

    def _broadcast(self, pack_id: str | None, pack: Pack | None) -> None:
        from tui.messages import PackReloaded

        for screen in self.screen_stack:
            screen.post_message(PackReloaded(pack_id, pack))

    def _notify_problems(
        self, path: Path, old: Pack | None, problems: list[Problem], new: bool = False
    ) -> None:
        shown = "\n".join(one_line(str(problem)) for problem in problems[:3])
        more = f"\n… {len(problems) - 3} more on the home screen" if len(problems) > 3 else ""
        kept = "the last good version stays loaded" if old else "it is not loaded"
        title = f"{one_line(path.name)} {'does not check' if new else 'no longer checks'}: {kept}"
        self.notify(shown + more, title=title, severity="error", timeout=12, markup=False)

    async def action_quit(self) -> None:
        """Quit (q, ctrl+q); a lab still training is cancelled and its partial run saved first."""
        if self.services.lab_runs.running():
            self.notify("stopping the running lab and saving its run…", timeout=10)
            await asyncio.to_thread(self.services.lab_runs.stop_all)
        self.exit()

    def on_unmount(self) -> None:
        if self._warm_check is not None:
            self._warm_check.stop()
        self.services.lab_runs.stop_all()  # however the app ends: no lab process or reader outlives it
        if self._warming:
            from labs.warm import discard

            discard()  # the lab worker waiting for a run, if one is
        self.store.close()
        self._handle_ending_signals(False)

    def _handle_ending_signals(self, handle: bool = True) -> None:
        """SIGTERM and SIGHUP end the app as q does: a running lab is cancelled and its partial run saved,
        then the terminal is given back (normal screen, no mouse tracking, cursor shown) on the way out."""
        import signal

        try:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                if handle:
                    loop.add_signal_handler(signum, self._ended_by_signal, int(signum))
                else:
                    loop.remove_signal_handler(signum)
        except (AttributeError, NotImplementedError, RuntimeError, ValueError):
            pass  # no such signals (Windows), or not the main thread's loop: the default applies

    def _ended_by_signal(self, signum: int) -> None:
        if not getattr(self, "_ending", False):
            self._ending = True
            self.run_worker(self._quit_for_signal(signum), name="quit on a signal", exclusive=True)

    async def _quit_for_signal(self, signum: int) -> None:
        if self.services.lab_runs.running():
            await asyncio.to_thread(self.services.lab_runs.stop_all)
        self.exit(return_code=128 + signum)

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
        from tui.screens.help import HelpScreen, screen_keys, screen_name

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(screen_keys(self.screen), screen_name(self.screen)))

    def action_custom_study(self, pack_id: str) -> None:
        """Custom study of a pack: on its study screen if that is the one shown, else on a new one."""
        from tui.screens.study import StudyScreen

        screen = self.screen
        if isinstance(screen, StudyScreen) and screen.pack.id == pack_id:
            screen.action_custom_study()
            return
        pack = self.library.pack(pack_id)
        if pack is None:
            self.notify(f"no pack {one_line(pack_id)!r}", severity="error", markup=False)
            return
        self.push_screen(StudyScreen(pack, custom_study=True))

    def action_settings(self) -> None:
        from tui.screens.settings import SettingsScreen

        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen())

    def on_settings_screen_saved(self, message: object) -> None:
        """The settings screen saved a setting: study sessions started from now on use the new config."""
        self.config = message.config  # type: ignore[attr-defined]

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
        self.push_screen(LabsScreen())

    def action_open_lab(self, lab_id: str, card_id: str | None = None) -> None:
        from tui.screens.lab import LabScreen

        self._know_pack_labs()
        try:
            screen = LabScreen(lab_id=lab_id, home=self.home, card_id=card_id)
        except ValueError as err:  # labs.registry.LabError: a lab id this version does not know
            self.notify(one_line(str(err)), severity="error", markup=False)
            return
        self._push_if_trusted(screen, lab_id)
        if not self._warming:  # from the first lab opened on
            self._warming = True
            self.screen_change_signal.subscribe(self, lambda _screen: self._keep_a_lab_worker_warm_soon())
            self.services.lab_runs.listen_for_ends(lambda: self.post_message(LabRunEnded()))
            self._keep_a_lab_worker_warm_soon()

    def on_lab_run_ended(self, _message: LabRunEnded) -> None:
        self._keep_a_lab_worker_warm_soon()

    def _keep_a_lab_worker_warm_soon(self) -> None:
        """Check WARM_AFTER_S from now, after the last screen change or run end (no polling)."""
        if self._warm_check is not None:
            self._warm_check.stop()
        self._warm_check = self.set_timer(WARM_AFTER_S, self._keep_a_lab_worker_warm, name="warm lab worker")

    def _keep_a_lab_worker_warm(self) -> None:
        """While a lab screen is shown and no lab runs, one lab worker waits with torch imported
        (`labs.warm`), so that pressing ctrl+r starts training without that import."""
        self._warm_check = None
        from labs.warm import prepare
        from tui.screens.lab import LabScreen

        shown = self.screen_stack[-1] if self.screen_stack else None  # none left while the app closes
        if isinstance(shown, LabScreen) and not self.services.lab_runs.running():
            prepare()  # nothing when one is waiting already

    def _know_pack_labs(self) -> None:
        """The labs of the user's packs, read (torch-free) the first time a lab is opened."""
        if getattr(self, "_pack_labs_known", False):
            return
        self._pack_labs_known = True
        from labs.packlabs import register_home_pack_labs

        for problem in register_home_pack_labs(self.home):
            self.notify(one_line(str(problem)), severity="warning", markup=False)

    def _push_if_trusted(self, screen: Screen, lab_id: str) -> None:
        """A pack's lab opens once the student trusts its pack (a dialog shows its files and sha256s).
        The lab screen checks again at every run (`labs.packlabs.check_trust`, the one trust decision)."""
        from labs.packlabs import accept, check_trust
        from labs.registry import get_lab

        info = get_lab(lab_id)
        check = check_trust(self.home, info)
        content = check.content
        if check.info is not None or content is None:
            self.push_screen(screen)  # a pack without labs any more: the screen says so when run
            return
        from tui.screens.trust import TrustLab

        def answered(trust: bool | None) -> None:
            if trust:
                accept(self.home, content, info)
                self.push_screen(screen)

        self.push_screen(
            TrustLab(content.pack_id, info.folder or Path(), content.digests, content.skipped),
            callback=answered,
        )

    def on_study_screen_first_card_shown(self, message: StudyScreen.FirstCardShown) -> None:
        """The study screen painted its first card: the end of a start-up benchmark run."""
        if self._bench_output:
            write_atomic(self._bench_output, repr(message.painted_at))
            self._bench_output = None
            self.exit(0)


def _load_library(home: Home, pack_filter: str | None) -> tuple[Library, str | None]:
    """All discovered packs, plus the pack file named by `pack_filter` when it is a path."""
    packs, errors = discover_packs(home)
    problems = [problem for error in errors for problem in error.problems]
    library = Library(tuple(packs), tuple(problems))
    if pack_filter is None:
        return library, None
    path = Path(pack_filter).expanduser()
    if pack_filter.endswith(".toml") or path.is_file():
        try:
            extra = load_pack(path, cache_dir=pack_cache_dir(home))
        except PackError as err:
            raise StartupError(str(err)) from None
        except OSError as err:
            raise StartupError(f"{path}: cannot read the pack: {err.strerror or err}") from None
        others = tuple(pack for pack in library.packs if pack.id != extra.id)
        return Library(others + (extra,), library.problems), extra.id
    if library.pack(pack_filter) is None:
        known = ", ".join(pack.id for pack in library.packs) or "none"
        raise StartupError(
            f"no pack with id {pack_filter!r} (packs: {known}); give a pack id or a .toml file"
        )
    return library, pack_filter


def _move_renamed_history(store: Store, packs: tuple[Pack, ...]) -> None:
    """Move the history of the cards whose `was` keys name their former ids (`cards.renames`, imported
    only when a pack has such a key: most have none, and start-up need not load it)."""
    renaming = [pack for pack in packs if pack.renames]
    if renaming:
        from cards.renames import apply_renames

        for pack in renaming:
            apply_renames(store, pack)


def create_app(
    home: Home,
    pack_filter: str | None = None,
    clock: Clock | None = None,
    watch_interval: float | None = WATCH_INTERVAL_S,
) -> CardlabApp:
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
        _move_renamed_history(store, library.packs)
    except StoreError as err:
        raise StartupError(str(err)) from None
    return CardlabApp(
        home, library, store, config, clock=clock, start_pack=start_pack, watch_interval=watch_interval
    )
