"""Labs that travel with a pack, and the trust their code needs before it runs (torch-free).

A pack's `[pack]` table may say `labs = ["labs/"]`: folders, relative to the pack file, each holding lab
folders (`labs/<lab id>/lab.toml` + `lab.py`). A pack's lab is code from whoever wrote the pack and runs as
the user, so it runs only once the user trusts it: trust is recorded per pack id with the sha256 of every
file of its labs, so a changed lab asks again. The bundled pack's labs (the built-in ones) need no trust.
"""

from __future__ import annotations

import hashlib
import json
import re
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
        return key_lines(path.read_text(encoding="utf-8"))[()].get("id", 1)
    except OSError:
        return 1


# -- trust --------------------------------------------------------------------------------------------


def lab_files(info: LabInfo) -> list[Path]:
    """Every file of a lab's folder (caches left out), sorted: what trusting it covers."""
    assert info.folder is not None
    files = (path for path in info.folder.rglob("*") if path.is_file())
    return sorted(path for path in files if "__pycache__" not in path.parts)


def file_digests(labs: Iterable[LabInfo]) -> dict[str, str]:
    """`{path: sha256}` of every file of `labs`."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest() for info in labs for path in lab_files(info)
    }


def trust_digest(digests: dict[str, str]) -> str:
    """One sha256 over every file's path and sha256: any changed, added or removed file changes it."""
    joined = "\n".join(f"{path}:{digest}" for path, digest in sorted(digests.items()))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


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

    def trust(self, pack_id: str, digest: str) -> None:
        data = self._read()
        data[pack_id] = digest
        write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def pack_lab_ids_line(pack_path: Path) -> tuple[str, tuple[Path, ...]]:
    """A pack file's id and lab folders, read leniently (its own problems are load_pack's to report)."""
    import tomllib

    try:
        header = tomllib.loads(pack_path.read_text(encoding="utf-8")).get("pack", {})
    except (OSError, ValueError):
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
    """The labs of the user's packs (`<home>/packs/*.toml` and linked packs with `labs = [...]`), by pack id."""
    from cards.discover import linked_pack_paths, user_pack_paths

    by_pack: dict[str, list[PackLab]] = {}
    problems: list[Problem] = []
    for path in user_pack_paths(home) + linked_pack_paths(home):
        pack_id, folders = pack_lab_ids_line(path)
        if not pack_id or not folders:
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


def pack_trust(home: Any, pack_id: str) -> tuple[str, dict[str, str]] | None:
    """A user pack's labs' trust digest and file digests, or None when no such pack has labs."""
    labs = home_pack_labs(home)[0].get(pack_id)
    if not labs:
        return None
    digests = file_digests(lab.info for lab in labs)
    return trust_digest(digests), digests
