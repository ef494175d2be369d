"""Property: whatever a pack file holds (mutated packs, hostile text in its strings), `cardlab pack check`
and `pack add` answer with an exit code and project messages: never a traceback, never a control
character on the terminal."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cards.test_pack_fuzz import mutated_pack
from tests.faults import HOSTILE
from tui.cli import main


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@st.composite
def hostile_pack(draw: st.DrawFn) -> str:
    """A mutated pack, with hostile text put in place of one of its quoted strings."""
    text = draw(mutated_pack())
    quotes = [index for index, char in enumerate(text) if char == '"']
    if len(quotes) >= 2:
        start = draw(st.sampled_from(quotes[:-1]))
        end = text.find('"', start + 1)
        text = text[:start] + json.dumps(draw(st.sampled_from(HOSTILE))) + text[end + 1 :]
    return text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_pack())
def test_pack_check_and_add_only_answer_with_project_messages(folder: Path, text: str) -> None:
    path = folder / "fuzz.toml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    for command in (
        ["pack", "check", str(path)],
        ["--home", str(folder / "home"), "pack", "add", "--replace", str(path)],
    ):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(command)
        out, err = out.getvalue(), err.getvalue()
        assert code in (0, 1), (code, err)
        assert "Traceback" not in err and "internal error" not in err, err
        assert "\x1b" not in out + err and "\x07" not in out + err
        if code:
            assert err.strip(), "a failure says why"
