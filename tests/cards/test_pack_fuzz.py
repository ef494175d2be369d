"""Property: whatever bytes a pack file holds, the loader returns a Pack or raises PackError whose every
problem has a line number; nothing else escapes."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards.discover import bundled_pack_paths
from cards.pack import Pack, PackError, load_pack
from tests.cards.test_pack import VALID

KNOWN_LABS = frozenset({"maps", "tabular"})
SEEDS = [VALID, bundled_pack_paths()[0].read_text(encoding="utf-8")]
# Characters that matter to TOML, cloze and our line index, plus some that should never matter.
SIGNIFICANT = "[]{}\"'=#.,:\\\n\r\t {}c1-_éx\x00\x7f\ufeff"
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def pack_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "fuzz.toml"


def assert_loads_or_reports(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        pack = load_pack(path, known_labs=KNOWN_LABS)
    except PackError as error:
        assert error.problems, "a PackError must carry at least one problem"
        last_line = data.count(b"\n") + 1
        for problem in error.problems:
            assert isinstance(problem.line, int) and 1 <= problem.line <= last_line, problem
            assert problem.file == path and problem.message
    else:
        assert isinstance(pack, Pack) and pack.cards


@st.composite
def mutated_pack(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate-line"]))
        if kind == "duplicate-line":
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[index])
            text = "".join(lines)
            continue
        inserted = "" if kind == "delete" else draw(st.text(alphabet=SIGNIFICANT, max_size=8))
        text = text[:start] + inserted + text[end if kind != "insert" else start :]
    return text


@FUZZ
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_pack_error(pack_file: Path, data: bytes) -> None:
    assert_loads_or_reports(pack_file, data)


@FUZZ
@given(text=mutated_pack())
def test_mutated_packs_only_raise_pack_error(pack_file: Path, text: str) -> None:
    assert_loads_or_reports(pack_file, text.encode("utf-8", errors="surrogatepass"))
