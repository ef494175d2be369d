"""Trusting a pack again after an edit leaves its old snapshot: it goes once no pack trusts it and no run
has used it for a day; a snapshot in use or trusted stays."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cards.paths import Home
from labs.packlabs import SNAPSHOT_GRACE, PackContent, snapshots_dir, trust_pack, write_snapshot


def content(code: str) -> PackContent:
    return PackContent(
        pack_id="my-pack",
        pack_path=Path("/packs/my-pack.toml"),
        labs={"my-pack/probe": {"lab.toml": b'id = "probe"\n', "lab.py": code.encode()}},
        folders={"my-pack/probe": Path("/packs/labs/probe")},
    )


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_an_untrusted_snapshot_unused_for_a_day_is_removed_and_the_trusted_one_kept(tmp_path: Path) -> None:
    home = Home.at(tmp_path / "home").ensure()
    first = trust_pack(home, content("x = 1\n"))
    age(first, SNAPSHOT_GRACE + 60)
    scratch = snapshots_dir(home) / ".new-crashed"
    scratch.mkdir()
    age(scratch, SNAPSHOT_GRACE + 60)
    second = trust_pack(home, content("x = 2\n"))  # the pack edited, trusted again
    assert second.is_dir() and not first.exists() and not scratch.exists()
    age(second, SNAPSHOT_GRACE + 60)
    trust_pack(home, content("x = 2\n"))  # trusted still: kept however old
    assert second.is_dir()


def test_an_untrusted_snapshot_used_recently_is_kept(tmp_path: Path) -> None:
    home = Home.at(tmp_path / "home").ensure()
    old = content("x = 1\n")
    first = trust_pack(home, old)
    age(first, SNAPSHOT_GRACE + 60)
    write_snapshot(home, old)  # a run starts from it (check_trust writes or reuses the snapshot)
    trust_pack(home, content("x = 2\n"))
    assert first.is_dir()
