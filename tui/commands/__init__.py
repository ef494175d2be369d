"""One module per `cardlab` command group; each exposes `register(subparsers)`.

Handlers import their heavy dependencies inside the function so `cardlab --help` and study
start-up stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from cards.paths import Home


def home_from_args(args: argparse.Namespace) -> Home:
    """The cardlab home a command works in: `--home DIR` if given (globally or after the command)."""
    from cards.paths import Home

    return Home.resolve(getattr(args, "home", None))
