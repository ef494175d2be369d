"""A review store that breaks while the app runs (a damaged page, a dropped table, a busy lock that never
clears) is said in a notification naming `cardlab doctor`, and the app stays up.

Textual ends the whole app on any exception a handler lets out, and every message a screen or the app
handles (mount, resume, key bindings, button presses) passes through its message pump's dispatch. So
the app and each screen that reads the store mix in `ShowsStoreErrors`, which catches the store's errors
at that one door instead of a try in every handler.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from cards.store import DOCTOR_HINT, StoreError
from tui.widgets.safe_text import one_line

if TYPE_CHECKING:
    from textual.app import App
    from textual.message import Message

NOTICE_SECONDS = 30


def store_error_text(error: Exception) -> str:
    """One line for the user: the store's own message, which names the way out, or SQLite's with it."""
    if isinstance(error, StoreError):
        return one_line(str(error))
    return one_line(f"the review store cannot be used ({error}): {DOCTOR_HINT}")


def show_store_error(app: App, error: Exception) -> None:
    app.notify(
        store_error_text(error),
        title="Review store problem",
        severity="error",
        timeout=NOTICE_SECONDS,
        markup=False,
    )


class ShowsStoreErrors:
    """Mixed in before Textual's `App` or `Screen`: store errors a handler raises become a notification."""

    app: App

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except (StoreError, sqlite3.DatabaseError) as error:
            show_store_error(self.app, error)
