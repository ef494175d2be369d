"""`e` on a card, in study and in the card detail: open its pack file at its line in $VISUAL / $EDITOR.

The app is suspended while the editor runs (`+LINE FILE` is understood by vi, vim, nvim, nano, emacs,
micro, kak, helix). Without an editor, or where the app cannot hand the terminal over (a headless
test, a web terminal), the location is copied (OSC 52) and shown, as before.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import TYPE_CHECKING

from textual.app import SuspendNotSupported
from textual.content import Content

from tui.widgets.safe_text import neutralize_controls, one_line

if TYPE_CHECKING:
    from textual.app import App

    from cards.pack import Card


def editor_command(card: Card, environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str] | None:
    """The command that opens `card` where it is written, or None when no editor is set."""
    editor = environ.get("VISUAL") or environ.get("EDITOR")
    if not editor or not editor.strip():
        return None
    return [*shlex.split(editor), f"+{card.line}", str(card.file)]


def edit_card(app: App, card: Card) -> None:
    """Open the editor on the card's line; else show (and copy) where the card is written."""
    command = editor_command(card)
    if command is not None:
        try:
            with app.suspend():
                done = subprocess.run(command, check=False)
        except SuspendNotSupported:
            pass
        except OSError as err:
            app.notify(
                f"cannot run {one_line(command[0])}: {err.strerror or err}", severity="error", markup=False
            )
            return
        else:
            if done.returncode != 0:
                app.notify(
                    f"{one_line(command[0])} exited with {done.returncode}", severity="warning", markup=False
                )
            return
    show_location(app, card)


def show_location(app: App, card: Card) -> None:
    where = f"{neutralize_controls(str(card.file))}:{card.line}"
    app.copy_to_clipboard(where)  # OSC 52: pasteable into an editor's "open file" prompt
    notes = f"\n\ninstructor notes: {neutralize_controls(card.notes.strip())}" if card.notes else ""
    app.notify(Content(where + notes), title="Edit this card at (copied)", timeout=12)
