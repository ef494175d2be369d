"""Data-derived text the CLI prints never carries a control character to the terminal."""

from __future__ import annotations

import email.message
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cards.test_pack import VALID
from tui.cli import main
from tui.safe_text import printable

ESCAPE = "\x1b]0;owned\x07\x1b[2J"  # retitle the terminal, then clear it


def test_printable_escapes_every_control_character_and_keeps_the_rest() -> None:
    assert printable(f"a{ESCAPE}b") == "a\\x1b]0;owned\\x07\\x1b[2Jb"
    assert printable("\x9b31m \x7f \u202eabc") == "\\x9b31m \\x7f \\u202eabc"
    assert printable("line\n\tnext") == "line\n\tnext"
    assert printable("line\n\tnext", one_line=True) == "line\\n\\tnext"
    assert printable("café, 日本, [brackets]") == "café, 日本, [brackets]"


def test_a_servers_reason_phrase_is_printed_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def urlopen(request: urllib.request.Request, timeout: float) -> None:
        raise urllib.error.HTTPError(
            request.full_url, 403, f"Forbidden{ESCAPE}", email.message.Message(), None
        )

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    url = f"http://127.0.0.1:9/x{ESCAPE}.tgz"
    code = main(["--home", str(tmp_path), "data", "fetch", "imdb", "--url", url])
    out, err = capsys.readouterr()
    assert code == 1 and "HTTP 403 Forbidden\\x1b]0;owned" in err
    assert "\x1b" not in out + err and "\x07" not in out + err


def test_pack_text_is_printed_escaped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "mine.toml"
    valid = VALID.replace('lab = "maps"\n', "")
    source.write_text(valid.replace('title = "Capitals"', 'title = "Capitals"\n"bad\\u001b[2J" = 1'))
    assert main(["pack", "check", str(source)]) == 1
    out, err = capsys.readouterr()
    assert 'unknown key "bad\\x1b[2J"' in err
    assert "\x1b" not in out + err
