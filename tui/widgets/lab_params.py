"""The lab screen's parameter form: preset, device, processes (on a multi-GPU machine) and one field per
parameter, each with its whole help text.

A field refuses what its parameter cannot hold as it is typed (the lab's `Param.parse`, shown under the
field), not when the run starts; choosing a preset fills every field with the preset's values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Select, Static

from labs.errors import LabError
from labs.presets import DEFAULT_PRESET, PRESET_NAMES
from tui.widgets.safe_text import one_line

if TYPE_CHECKING:
    from labs.info import LabInfo, Param
    from labs.launch import Launch

DEVICES = ("auto", "cpu", "cuda", "mps")

# What each type of field lets be typed at all (a whole-value regex); the validator checks the rest.
_RESTRICT = {
    "int": r"[-+]?[0-9]*",
    "float": r"[-+]?[0-9]*\.?[0-9]*(?:[eE][-+]?[0-9]*)?",
    "ints": r"[-+0-9, ]*",
}


class ParamValidator(Validator):
    """A field's value as its parameter parses it (`Param.parse`): refused in the field, with the lab's words."""

    def __init__(self, param: Param) -> None:
        super().__init__()
        self.param = param

    def validate(self, value: str) -> ValidationResult:
        try:
            self.param.parse(value)
        except LabError as error:
            return self.failure(str(error))
        return self.success()


class LabParams(Vertical):
    DEFAULT_CSS = """
    LabParams { height: auto; }
    """

    def __init__(self, info: LabInfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = info

    def compose(self) -> ComposeResult:
        yield Static(Text("parameters", style="bold"), id="params-heading")
        yield Label("preset")
        yield Select(
            [(name, name) for name in PRESET_NAMES], value=DEFAULT_PRESET, allow_blank=False, id="preset"
        )
        yield Label("device")
        yield Select([(name, name) for name in DEVICES], value="auto", allow_blank=False, id="device")
        yield from self._compose_processes()
        for param in self.info.params:
            yield Label(
                Text(f"{param.name}  ", style="bold") + Text(param.help, style="dim"), classes="param-help"
            )
            yield Input(
                id=f"param-{param.name}",
                classes="param",
                tooltip=param.help,
                validators=[ParamValidator(param)],
                restrict=_RESTRICT.get(param.type),
            )
            yield Static("", id=f"param-error-{param.name}", classes="param-error")

    def _compose_processes(self) -> ComposeResult:
        """On a machine with several GPUs: how many processes (one per GPU, torchrun) train the lab."""
        from labs.launch import gpu_count

        gpus = gpu_count()
        if gpus > 1:
            yield Label("processes (one per GPU)")
            choices = [(str(n), n) for n in range(1, gpus + 1)]
            yield Select(choices, value=1, allow_blank=False, id="nproc", tooltip="torchrun --nproc-per-node")

    def on_mount(self) -> None:
        self.fill(DEFAULT_PRESET)

    def fill(self, preset: str) -> None:
        """Every field with `preset`'s value."""
        values = self.info.resolve(preset)
        for param in self.info.params:
            self.query_one(f"#param-{param.name}", Input).value = str(values[param.name])

    @on(Select.Changed, "#preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.fill(event.value)

    @on(Input.Changed, ".param")
    def _param_changed(self, event: Input.Changed) -> None:
        """Say under the field why a value is refused, as it is typed."""
        name = (event.input.id or "").removeprefix("param-")
        result = event.validation_result
        message = "" if result is None or result.is_valid else "; ".join(result.failure_descriptions)
        said = self.query_one(f"#param-error-{name}", Static)
        said.update(Text(one_line(message), style="red"))
        said.set_class(bool(message), "-shown")

    def refused(self) -> tuple[Input, str] | None:
        """The first field holding a value its parameter refuses, with why."""
        for param in self.info.params:
            field = self.query_one(f"#param-{param.name}", Input)
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                return field, "; ".join(result.failure_descriptions)
        return None

    @property
    def preset(self) -> str:
        return str(self.query_one("#preset", Select).value)

    @property
    def device(self) -> str:
        return str(self.query_one("#device", Select).value)

    def overrides(self) -> dict[str, object]:
        """Each parameter's field as typed (the run parses and checks them once, `LabInfo.resolve`)."""
        return {p.name: self.query_one(f"#param-{p.name}", Input).value for p in self.info.params}

    def launch(self) -> Launch:
        from labs.launch import Launch

        chosen = self.query("#nproc")
        nproc = chosen.first(Select).value if chosen else 1
        return Launch(nproc=nproc if isinstance(nproc, int) else 1)
