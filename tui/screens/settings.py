"""Settings: every study setting of config.toml, edited in place and checked before it is saved.

Enter in a field saves that one setting (atomically, keeping the file's comments and tables); a value
that does not check stays in the field with the reason under it. Study sessions started afterwards use
the new settings (the screen posts `SettingsScreen.Saved`, which the app takes).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from cards.config import (
    DESCRIPTIONS,
    Config,
    ConfigError,
    load_config,
    save_config,
    setting_text,
    with_setting,
)
from tui.widgets.key_hints import KeyHints
from tui.widgets.safe_text import literal


class SettingsScreen(Screen[None]):
    CSS_PATH = "settings.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="settings.back", tooltip="Back to where you were"),
    ]

    class Saved(Message):
        """A setting was written to config.toml; `config` is the whole new configuration."""

        def __init__(self, config: Config) -> None:
            super().__init__()
            self.config = config

    def compose(self) -> ComposeResult:
        yield Static("Settings  (enter saves a field to config.toml)", id="settings-title")
        with VerticalScroll(id="settings-list"):
            for key, meaning in DESCRIPTIONS.items():
                with Horizontal(classes="setting"):
                    yield Label(key, classes="setting-key")
                    yield Input(id=f"setting-{key}", compact=True, classes="setting-value")
                yield Static(meaning, classes="setting-help", markup=False)
        yield Static(id="settings-status")
        yield KeyHints()

    def on_mount(self) -> None:
        home = self.app.home  # type: ignore[attr-defined]
        try:
            self.config = load_config(home)
        except ConfigError as err:  # shown, and every field starts from the defaults
            self.config = Config()
            self._status(str(err), error=True)
        for key in DESCRIPTIONS:
            self.query_one(f"#setting-{key}", Input).value = setting_text(self.config, key)
        self.query_one(f"#setting-{next(iter(DESCRIPTIONS))}", Input).focus()

    @on(Input.Submitted, ".setting-value")
    def _submitted(self, event: Input.Submitted) -> None:
        assert event.input.id is not None
        self.save(event.input.id.removeprefix("setting-"), event.value)

    def save(self, key: str, text: str) -> bool:
        """Check and write one setting; True when it was saved."""
        try:
            config = with_setting(self.config, key, text)
        except ConfigError as err:
            self._status(str(err), error=True)
            return False
        save_config(self.app.home, config)  # type: ignore[attr-defined]
        self.config = config
        shown = setting_text(config, key)
        self.query_one(f"#setting-{key}", Input).value = shown
        self._status(f"saved {key} = {shown or '(default)'}")
        self.post_message(self.Saved(config))
        return True

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#settings-status", Static)
        status.update(literal(text))
        status.set_class(error, "-error")
