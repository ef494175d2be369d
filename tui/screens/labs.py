"""Every lab in a list: its title, the cards it teaches and its summary; enter opens it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from labs.registry import all_labs, get_lab
from tui.services import services_of


class LabsScreen(Screen[None]):
    DEFAULT_CSS = """
    LabsScreen #labs-title { height: 1; padding: 0 1; background: $panel; }
    LabsScreen OptionList { height: 1fr; }
    LabsScreen #lab-summary { height: auto; max-height: 8; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("enter", "open", "Open lab", id="labs.open", tooltip="Open the highlighted lab"),
        Binding("escape", "app.pop_screen", "Back", id="labs.back", tooltip="Back"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(
            Text("Labs: each one trains the technique of its cards, live", style="bold"), id="labs-title"
        )
        yield OptionList(*(Option(self._label(info.id), id=info.id) for info in all_labs()), id="labs")
        yield Static(id="lab-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    def on_screen_resume(self) -> None:
        """Back from a lab: its run's state (running, finished...) may have changed."""
        options = self.query_one(OptionList)
        for info in all_labs():
            options.replace_option_prompt(info.id, self._label(info.id))

    def _label(self, lab_id: str) -> Text:
        info = get_lab(lab_id)
        run = services_of(self).lab_runs.get(lab_id)
        state = f"  [{run.status}]" if run is not None else ""
        return Text.assemble(
            (info.title, "bold"),
            (f"  {info.id}", "dim"),
            (state, "yellow"),
            ("\n  cards: " + ", ".join(info.card_ids), "dim"),
        )

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.query_one("#lab-summary", Static).update(Text(get_lab(event.option.id).summary))

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            await self._open(event.option.id)

    async def action_open(self) -> None:
        option_list = self.query_one(OptionList)
        if option_list.highlighted is not None:
            option = option_list.get_option_at_index(option_list.highlighted)
            if option.id:
                await self._open(option.id)

    async def _open(self, lab_id: str) -> None:
        """Through the app, which asks for trust first when the lab comes with a pack."""
        await self.app.run_action(f"open_lab({lab_id!r})")
