"""Labs that travel with a pack, and the trust their code needs before it runs (torch-free).

A pack's `[pack]` table may say `labs = ["labs/"]`: folders, relative to the pack file, each holding lab
folders (`labs/<lab id>/lab.toml` + `lab.py`). A pack's lab is code from whoever wrote the pack and runs as
the user, so it runs only once the user trusts it: trust is recorded per pack id with the sha256 of every
file of its labs, so a changed lab asks again. The bundled pack's labs (the built-in ones) need no trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cards.pack import Problem
from labs.files import write_atomic
from labs.info import LabInfo
from labs.labdir import PACK_NAMESPACE, LabFormatError, builtin_groups, lab_folders, read_lab

TRUST_FILE = "trusted-labs.json"


@dataclass(frozen=True)
class PackLab:
    pack_id: str
    pack_path: Path
    info: LabInfo


def read_pack_labs(pack_id: str, pack_path: Path, lab_dirs: Iterable[Path]) -> list[PackLab]:
    """The labs in a pack's lab folders; LabFormatError lists every problem (file:line) in them."""
    namespace = f"{PACK_NAMESPACE}.{re.sub(r'[^a-z0-9]', '_', pack_id)}"
    labs: list[PackLab] = []
    problems: list[Problem] = []
    for root in lab_dirs:
        if not root.is_dir():
            problems.append(Problem(pack_path, 1, None, f"labs: no such folder {root}"))
            continue
        for folder in lab_folders(root):
            try:
                labs.append(PackLab(pack_id, pack_path, read_lab(folder, builtin_groups(), namespace)))
            except LabFormatError as error:
                problems += error.problems
    if problems:
        raise LabFormatError(problems)
    return labs


def duplicate_lab_problem(lab: PackLab, owner: str) -> Problem:
    """A pack lab whose id is already taken (by a built-in lab or another pack's)."""
    path = lab.info.folder / "lab.toml" if lab.info.folder else lab.pack_path
    return Problem(path, _id_line(path), None, f'lab id "{lab.info.id}" is already used by {owner}')


def _id_line(path: Path) -> int:
    from labs.labdir import key_lines

    try:
        return key_lines(path.read_text(encoding="utf-8")).root.line_of("id")
    except OSError:
        return 1


def pack_lab_ids_line(pack_path: Path) -> tuple[str, tuple[Path, ...]]:
    """A pack file's id and lab folders, read leniently (its own problems are load_pack's to report)."""
    import tomllib

    try:
        header = tomllib.loads(pack_path.read_text(encoding="utf-8")).get("pack", {})
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deeply (load_pack says so)
        return "", ()
    labs = header.get("labs", []) if isinstance(header, dict) else []
    folders = (
        tuple(pack_path.parent / item for item in labs if isinstance(item, str))
        if isinstance(labs, list)
        else ()
    )
    pack_id = header.get("id", "") if isinstance(header, dict) else ""
    return (pack_id if isinstance(pack_id, str) else ""), folders


def home_pack_labs(home: Any) -> tuple[dict[str, list[PackLab]], list[Problem]]:
    """The labs of the user's packs (`<home>/packs/*.toml` and linked packs with `labs = [...]`), by pack id.

    A pack file whose id an earlier one already has (in `discover_packs`' order: bundled, user, linked) is
    refused whole, as its cards are: none of its labs is read, so it can never stand in for the other."""
    from cards.discover import bundled_pack_paths, linked_pack_paths, user_pack_paths
    from cards.pack import duplicate_pack_message, pack_id_line

    by_pack: dict[str, list[PackLab]] = {}
    problems: list[Problem] = []
    owners: dict[str, Path] = {pack_lab_ids_line(path)[0]: path for path in reversed(bundled_pack_paths())}
    for path in user_pack_paths(home) + linked_pack_paths(home):
        pack_id, folders = pack_lab_ids_line(path)
        if not pack_id:
            continue
        if pack_id in owners:
            if folders:
                message = duplicate_pack_message(pack_id, owners[pack_id], pack_id_line(owners[pack_id]))
                problems.append(Problem(path, pack_id_line(path), None, f"{message}; its labs are not read"))
            continue
        owners[pack_id] = path
        if not folders:
            continue
        try:
            by_pack[pack_id] = read_pack_labs(pack_id, path, folders)
        except LabFormatError as error:
            problems += error.problems
    return by_pack, problems


def register_home_pack_labs(home: Any) -> list[Problem]:
    """Make the user's pack labs known to `labs.registry` (lab list, lab run); the problems found."""
    from labs.registry import register_pack_labs

    by_pack, problems = home_pack_labs(home)
    for pack_id, labs in by_pack.items():
        taken = register_pack_labs(pack_id, [lab.info for lab in labs])
        problems += [duplicate_lab_problem(lab, "another lab") for lab in labs if lab.info in taken]
    return problems


# -- trust --------------------------------------------------------------------------------------------
#
# What runs is what was trusted. A pack's labs are read once into memory (regular files only: no
# bytecode, no `__pycache__`, no symlink leaving a lab folder, no symlinked folder); those bytes are what
# the user is shown, what is hashed, and what trusting copies into a content-addressed snapshot,
# `<home cache>/trusted-labs/<digest>/<lab id>/`. The lab's process imports only from the snapshot (see
# `labs.worker`), so an edit of the pack's folder after trust never runs: the next run reads the pack
# again, finds a digest that is not trusted, and asks again.

SNAPSHOT_DIR = "trusted-labs"
SNAPSHOT_GRACE = 24 * 3600.0  # seconds a snapshot no pack trusts is kept after its last use
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_BYTECODE = (".pyc", ".pyo")


@dataclass(frozen=True)
class PackContent:
    """The bytes of a pack's labs, read once: shown to the user, hashed, and copied when trusted."""

    pack_id: str
    pack_path: Path
    labs: dict[str, dict[str, bytes]]  # lab id -> {path in its folder (posix): bytes}
    folders: dict[str, Path]  # lab id -> its folder in the pack
    skipped: tuple[str, ...] = ()  # what is never copied nor run, with why

    @property
    def digests(self) -> dict[str, str]:
        """`{file in the pack: sha256}`, for showing."""
        return {
            str(self.folders[lab_id] / rel): hashlib.sha256(data).hexdigest()
            for lab_id, files in self.labs.items()
            for rel, data in files.items()
        }

    @property
    def digest(self) -> str:
        return content_digest(self.labs)


def content_digest(labs: dict[str, dict[str, bytes]]) -> str:
    """One sha256 over every lab id, file path and file sha256: any changed, added or removed file changes it."""
    lines = sorted(
        f"{lab_id}/{rel}:{hashlib.sha256(data).hexdigest()}"
        for lab_id, files in labs.items()
        for rel, data in files.items()
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def read_lab_files(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    """The regular files under `folder` as `{posix path: bytes}`, and what was left out (with why).

    Left out, and so never copied into a snapshot nor run: bytecode (`__pycache__`, `*.pyc`), symlinked
    folders, symlinks whose target is outside `folder` or not a regular file, and anything not a regular
    file. A symlink to a file inside `folder` is read as that file."""
    root = folder.resolve()
    files: dict[str, bytes] = {}
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):  # never descends into a symlinked folder
        here = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            path = here / name
            if name == "__pycache__":
                skipped.append(f"{path} (bytecode: never run)")
            elif path.is_symlink():
                skipped.append(f"{path} (a symlinked folder: not followed)")
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            if name.endswith(_BYTECODE):
                skipped.append(f"{path} (bytecode: never run)")
                continue
            source = path
            if path.is_symlink():
                source = path.resolve()
                if not source.is_relative_to(root):
                    skipped.append(f"{path} (a symlink leaving the lab folder: not followed)")
                    continue
            data = _read_regular(source)
            if data is None:
                skipped.append(f"{path} (not a regular file)")
            else:
                files[rel] = data
    return files, skipped


def _read_regular(path: Path) -> bytes | None:
    """The bytes of `path` if it is a regular file (itself, not a symlink), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
        return stream.read()


def read_pack_content(pack_id: str, labs: Iterable[PackLab]) -> PackContent:
    files: dict[str, dict[str, bytes]] = {}
    folders: dict[str, Path] = {}
    skipped: list[str] = []
    pack_path = Path()
    for lab in labs:
        assert lab.info.folder is not None
        pack_path = lab.pack_path
        files[lab.info.id], left_out = read_lab_files(lab.info.folder)
        folders[lab.info.id] = lab.info.folder
        skipped += left_out
    return PackContent(pack_id, pack_path, files, folders, tuple(skipped))


def pack_content(home: Any, pack_id: str) -> PackContent | None:
    """The bytes of a user pack's labs, or None when no such pack has labs."""
    labs = home_pack_labs(home)[0].get(pack_id)
    return read_pack_content(pack_id, labs) if labs else None


def snapshots_dir(home: Any) -> Path:
    return Path(home.cache_dir) / SNAPSHOT_DIR


def is_snapshot_folder(folder: Path | None) -> bool:
    """`folder` is a lab folder inside a trusted snapshot: `.../trusted-labs/<sha256>/<lab id>`."""
    return (
        folder is not None
        and folder.parent.parent.name == SNAPSHOT_DIR
        and _DIGEST.match(folder.parent.name) is not None
    )


def read_snapshot(root: Path) -> dict[str, dict[str, bytes]] | None:
    """A snapshot's labs as `{lab id: {path: bytes}}`; None when it holds anything a snapshot never
    holds (bytecode, a symlink, a non-file), so that its digest alone cannot vouch for what would run."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return None
    labs: dict[str, dict[str, bytes]] = {}
    for entry in entries:
        if entry.is_symlink() or not entry.is_dir():
            return None
        files, skipped = read_lab_files(entry)
        if skipped:
            return None
        labs[entry.name] = files
    return labs


def verify_snapshot(root: Path) -> bool:
    """The snapshot's content hashes to its folder's name."""
    labs = read_snapshot(root)
    return labs is not None and bool(labs) and content_digest(labs) == root.name


def write_snapshot(home: Any, content: PackContent) -> Path:
    """`<cache>/trusted-labs/<digest>/` holding exactly `content`'s bytes (kept if already there and whole)."""
    root = snapshots_dir(home) / content.digest
    if verify_snapshot(root):
        _mark_used(root)
        return root
    import shutil
    import tempfile

    root.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".new-", dir=root.parent))
    try:
        for lab_id, files in content.labs.items():
            for rel, data in files.items():
                target = scratch / lab_id / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        if verify_snapshot(root):  # another run of the same pack wrote it meanwhile
            shutil.rmtree(scratch, ignore_errors=True)
            return root
        if root.exists() or root.is_symlink():  # damaged (a crash, a stray file): replaced whole
            stale = Path(tempfile.mkdtemp(prefix=".old-", dir=root.parent))
            os.replace(root, stale / "x")
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(scratch, root)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not verify_snapshot(root):  # another process may have written the same snapshot meanwhile
            raise
    return root


class TrustStore:
    """`<home data>/trusted-labs.json`: pack id -> the digest of its labs' files when the user trusted them."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / TRUST_FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def is_trusted(self, pack_id: str, digest: str) -> bool:
        return self._read().get(pack_id) == digest

    def trusted_digests(self) -> set[str]:
        return {digest for digest in self._read().values() if isinstance(digest, str)}

    def trust(self, pack_id: str, digest: str) -> None:
        data = self._read()
        data[pack_id] = digest
        write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def trust_pack(home: Any, content: PackContent) -> Path:
    """Trust exactly `content` (the bytes the user was shown): snapshot it, then record its digest."""
    root = write_snapshot(home, content)
    store = TrustStore(home.data_dir)
    store.trust(content.pack_id, content.digest)
    prune_snapshots(home, store.trusted_digests())
    return root


def _mark_used(root: Path) -> None:
    """A run is about to start from `root`: its time tells `prune_snapshots` it is in use."""
    try:
        os.utime(root)
    except OSError:
        pass  # a read-only cache: the snapshot is simply kept longer


def prune_snapshots(home: Any, trusted: set[str], unused_for: float = SNAPSHOT_GRACE) -> list[Path]:
    """Remove the snapshots no pack trusts any more (a pack trusted again after an edit leaves its old
    one) and leftover scratch folders, once unused for `unused_for` seconds: a run started from an old
    snapshot keeps it while it may still read its files. Returns what was removed."""
    import shutil
    import time

    folder = snapshots_dir(home)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    removed = []
    for entry in entries:
        try:
            idle = time.time() - entry.lstat().st_mtime
        except OSError:
            continue
        stale = entry.name not in trusted and (
            _DIGEST.match(entry.name) or entry.name.startswith((".new-", ".old-"))
        )
        if stale and idle > unused_for and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@dataclass(frozen=True)
class TrustCheck:
    """What may run: `info` (a built-in lab, or a pack lab's trusted snapshot), else `content` to ask about
    (None: the lab's pack has no labs any more)."""

    info: LabInfo | None
    content: PackContent | None = None


def check_trust(home: Any, info: LabInfo) -> TrustCheck:
    """The one trust decision (the app, its lab screen's ctrl+r, `cardlab lab run`): a built-in lab runs as it
    is; a pack's lab runs from the snapshot of its pack's current bytes when those are trusted."""
    from labs.registry import pack_of

    pack_id = pack_of(info.id)
    if pack_id is None:
        return TrustCheck(info)
    content = pack_content(home, pack_id)
    if content is None or info.id not in content.labs:
        return TrustCheck(None, None)
    if not TrustStore(home.data_dir).is_trusted(pack_id, content.digest):
        return TrustCheck(None, content)
    return TrustCheck(snapshot_info(write_snapshot(home, content), info))


def accept(home: Any, content: PackContent, info: LabInfo) -> LabInfo:
    """Trust `content` (as shown) and return `info`'s lab as it runs: from the new snapshot."""
    return snapshot_info(trust_pack(home, content), info)


def snapshot_info(root: Path, info: LabInfo) -> LabInfo:
    """`info`'s lab read from the snapshot `root`: its lab.toml and code as trusted."""
    return read_lab(root / info.id, builtin_groups(), info.module.rsplit(".", 1)[0])


def pack_trust(home: Any, pack_id: str) -> tuple[str, dict[str, str]] | None:
    """A user pack's labs' trust digest and file digests, or None when no such pack has labs."""
    content = pack_content(home, pack_id)
    return None if content is None else (content.digest, content.digests)
