"""A radio button whose label wraps under itself instead of being cut.

Textual's RadioButton draws its label on one line: in the lab screen's 40-column sidebar a prediction
choice came out as "the one trained from scrat…", and a keyboard user had no way to read the rest (the
tooltip needs a mouse). This one wraps the label at the button's width with a hanging indent, and is as
tall as its lines.
"""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Size
from textual.widgets import RadioButton

_LABEL_PADDING = 2  # one cell either side of the label, as RadioButton pads it


class ChoiceButton(RadioButton):
    def _label_lines(self, width: int) -> list[Content]:
        room = max(width - self._button.cell_length - _LABEL_PADDING, 8)
        return self._label.wrap(room) or [Content("")]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._label_lines(width))

    def render(self) -> Content:
        button = self._button
        indent = " " * button.cell_length
        label_style = self.get_visual_style("toggle--label")
        rows = [
            Content.assemble(button if index == 0 else indent, line.pad(1, 1).stylize_before(label_style))
            for index, line in enumerate(self._label_lines(self.content_size.width))
        ]
        return Content("\n").join(rows)
