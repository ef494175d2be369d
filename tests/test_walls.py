"""The rooms' walls: what each package may import, checked in a fresh interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules_of(package: str) -> list[str]:
    path = ROOT / package
    return [package] + [
        f"{package}.{m.name}" for m in pkgutil.walk_packages([str(path)]) if m.name != "__main__"
    ]


def imported_after(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print('\\n'.join(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return {line.split(".")[0] for line in out.stdout.split()}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("cards", {"textual", "torch", "pandas", "engine", "labs", "tui"}),
        ("engine", {"textual", "cards", "labs", "tui"}),
    ],
)
def test_package_stays_inside_its_walls(package: str, forbidden: set[str]) -> None:
    leaked = imported_after(modules_of(package)) & forbidden
    assert not leaked, f"{package} imports {sorted(leaked)}"


def test_lab_registry_is_torch_free() -> None:
    leaked = imported_after(["labs.registry"]) & {"torch", "pandas", "textual"}
    assert not leaked, f"labs.registry imports {sorted(leaked)}"
