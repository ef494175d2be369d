"""The keys line fits its width: the palette goes first, then the screen's last keys; "? Keys" stays."""

from __future__ import annotations

from textual.binding import ActiveBinding, Binding

from tui.widgets.key_hints import hints_line

SCREEN, APP = object(), object()
STUDY_KEYS = [
    ("1", "Again"),
    ("2", "Hard"),
    ("3", "Good"),
    ("4", "Easy"),
    ("b", "Browse"),
    ("escape", "Packs"),
]


def bindings() -> list[ActiveBinding]:
    keys = [ActiveBinding(SCREEN, Binding(key, f"do_{key}", label), True, "") for key, label in STUDY_KEYS]  # type: ignore[arg-type]
    return [*keys, ActiveBinding(APP, Binding("question_mark", "help", "Keys"), True, "")]  # type: ignore[arg-type]


def line(width: int | None) -> str:
    return hints_line(bindings(), lambda binding: binding.key, "^p", width=width, app_node=APP).plain


def test_a_wide_line_shows_every_key_and_the_palette() -> None:
    assert (
        line(None)
        == line(200)
        == ("1 Again  2 Hard  3 Good  4 Easy  b Browse  escape Packs  question_mark Keys  ^p commands")
    )


def test_a_narrow_line_drops_the_palette_then_the_screens_last_keys_but_keeps_the_keys_list() -> None:
    assert line(76) == "1 Again  2 Hard  3 Good  4 Easy  b Browse  escape Packs  question_mark Keys"
    assert line(64) == "1 Again  2 Hard  3 Good  4 Easy  b Browse  …  question_mark Keys"
    assert line(63) == "1 Again  2 Hard  3 Good  4 Easy  …  question_mark Keys"
    assert all(len(line(width)) <= width for width in range(21, 90))
    assert line(10) == "…  question_mark Keys"  # too narrow for anything else: the way to the rest stays
