"""What the screens work with, held by the app: the packs, the review store, the settings, the clock and
the lab runs. Screens reach it with `services_of(self)` and ask the app for navigation through actions
(`self.app.run_action("study('pack-id')")`) or messages, so no screen imports `tui.app`.

Nothing here imports torch or pandas (studying must not): the lab runs module loads `labs` lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from cards.schedule import StudySession
from cards.study_day import utc_now
from tui.lab_runs import LabRuns

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from cards.config import Config
    from cards.pack import Pack, Problem
    from cards.paths import Home
    from cards.store import Store

Clock = Callable[[], datetime]


class Library(NamedTuple):
    """What the app studies: the packs that loaded and the problems of those that did not."""

    packs: tuple[Pack, ...]
    problems: tuple[Problem, ...] = ()  # of the files that did not load (their last good pack may stay)

    @property
    def errors(self) -> tuple[str, ...]:
        """One "file:line: message" line per problem."""
        return tuple(str(problem) for problem in self.problems)

    @property
    def problem_files(self) -> tuple[Path, ...]:
        """The files the problems are in (watched for a fix)."""
        return tuple(dict.fromkeys(problem.file for problem in self.problems))

    def pack(self, pack_id: str) -> Pack | None:
        return next((pack for pack in self.packs if pack.id == pack_id), None)

    def pack_at(self, path: Path) -> Pack | None:
        return next((pack for pack in self.packs if pack.path == path), None)

    def files(self) -> list[Path]:
        """Every pack file the app read: the packs loaded and the files with problems."""
        return list(dict.fromkeys([*(pack.path for pack in self.packs), *self.problem_files]))

    def with_pack(self, pack: Pack) -> Library:
        """The library with `pack` in place of the version loaded from its file; that file's problems gone."""
        packs = tuple(pack if other.path == pack.path else other for other in self.packs)
        if self.pack_at(pack.path) is None:
            packs += (pack,)
        return self.with_problems(pack.path, ())._replace_packs(packs)

    def with_problems(self, path: Path, problems: Iterable[Problem]) -> Library:
        """The library with `path`'s problems replaced by `problems` (its last good pack stays)."""
        kept = tuple(problem for problem in self.problems if problem.file != path)
        return Library(self.packs, kept + tuple(problems))

    def _replace_packs(self, packs: tuple[Pack, ...]) -> Library:
        return Library(packs, self.problems)


@dataclass
class Services:
    """The app's packs, store, settings, clock and lab runs, as the screens see them."""

    home: Home
    library: Library
    store: Store
    config: Config
    clock: Clock | None = None
    lab_runs: LabRuns = field(default_factory=LabRuns)

    def now(self) -> datetime:
        return (self.clock or utc_now)()

    def new_session(self, packs: tuple[Pack, ...] | None = None) -> StudySession:
        """A study session over `packs` (default: all of them), on this app's store and clock."""
        chosen = list(self.library.packs if packs is None else packs)
        return StudySession(self.store, chosen, self.config, clock=self.clock or utc_now)


def services_of(node: DOMNode) -> Services:
    """The services of the app `node` (a screen, a widget) runs in."""
    found = getattr(node.app, "services", None)
    if not isinstance(found, Services):
        raise TypeError(f"{type(node.app).__name__} holds no cardlab services")
    return found
