"""Lab folders: lab.toml read without torch, shared parameter groups, file:line problems, lab.py by path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labs.labdir import (
    BUILTIN_ROOT,
    LabFormatError,
    builtin_groups,
    load_lab_module,
    param_group,
    read_lab,
)
from labs.registry import all_labs, get_lab, load_run_function

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
id = "tiny"
title = "Tiny"
summary = "A tiny lab."
steps = ["train"]

[question]
prompt = "Up or down?"
choices = ["down", "up"]

[[params]]
name = "epochs"
type = "int"
default = 2
min = 1
help = "epochs"

[[params]]
include = "seeds"

[presets.smoke]
epochs = 1
"""

CODE = """\
from helper import WORD

def run(ctx):
    return {"word": WORD, "epochs": ctx.p.epochs, "outcome": ctx.info.question.choices[0]}
"""


def write_lab(folder: Path, toml: str = GOOD, code: str = CODE) -> Path:
    folder.mkdir(parents=True)
    (folder / "lab.toml").write_text(toml, encoding="utf-8")
    (folder / "lab.py").write_text(code, encoding="utf-8")
    return folder


def test_every_builtin_lab_is_a_folder_named_by_its_id() -> None:
    for info in all_labs():
        assert info.folder == BUILTIN_ROOT / info.id
        assert (info.folder / "lab.py").is_file()


def test_a_shared_group_is_defined_once_and_included_in_place() -> None:
    sizes = [p.name for p in param_group("ulmfit-sizes").params]
    for lab_id in ("ulmfit-lm", "ulmfit-classifier", "discriminative-lr"):
        info = get_lab(lab_id)
        names = [p.name for p in info.params]
        start = names.index(sizes[0])
        assert names[start : start + len(sizes)] == sizes
        assert info.resolve("smoke")["emb_sz"] == param_group("ulmfit-sizes").presets["smoke"]["emb_sz"]
        assert info.resolve("full")["pretrained"] == "wt103-fwd"  # the pretrain group's full preset


def test_a_lab_folder_reads_with_its_groups_and_its_code_loads_by_path(tmp_path: Path) -> None:
    folder = write_lab(tmp_path / "tiny")
    (folder / "helper.py").write_text('WORD = "from the helper"\n', encoding="utf-8")
    info = read_lab(folder, builtin_groups(), namespace="test_labdir_ns")
    assert [p.name for p in info.params] == ["epochs", "seeds"]
    assert info.resolve("smoke") == {"epochs": 1, "seeds": 1}
    assert info.resolve("quick") == {"epochs": 2, "seeds": 5}
    module = load_lab_module(info)
    assert module.__name__ == "test_labdir_ns.tiny"
    ctx = type("Ctx", (), {"p": type("P", (), {"epochs": 3}), "info": info})()
    assert load_run_function(info)(ctx) == {"word": "from the helper", "epochs": 3, "outcome": "down"}


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("min = 1", "min = 3"), 13, "default: epochs: 2 is below the minimum 3"),
        (('type = "int"', 'type = "integer"'), 12, "type must be one of"),
        (('include = "seeds"', 'include = "seed"'), 18, "no parameter group 'seed'"),
        (("epochs = 1", "epoch = 1"), 21, "preset smoke: no parameter 'epoch'"),
        (('title = "Tiny"', 'titel = "Tiny"'), 2, 'unknown key "titel"; did you mean "title"?'),
        (('choices = ["down", "up"]', 'choices = ["down"]'), 8, "a question needs at least two choices"),
        (('steps = ["train"]', 'steps = ["train"'), 6, "TOML syntax error"),
    ],
)
def test_problems_name_the_file_and_line(
    tmp_path: Path, change: tuple[str, str], line: int, message: str
) -> None:
    folder = write_lab(tmp_path / "tiny", GOOD.replace(*change))
    with pytest.raises(LabFormatError) as caught:
        read_lab(folder, builtin_groups())
    problem = next(text for text in str(caught.value).splitlines() if message in text)
    assert problem.startswith(f"{folder / 'lab.toml'}:{line}:"), problem


def test_a_folder_without_lab_py_says_so(tmp_path: Path) -> None:
    folder = write_lab(tmp_path / "tiny")
    (folder / "lab.py").unlink()
    with pytest.raises(LabFormatError, match=r"lab.toml:1: the lab's code is missing"):
        read_lab(folder, builtin_groups())


def test_reading_every_lab_folder_imports_no_torch() -> None:
    code = (
        "import sys, labs.labdir as d; d.builtin_labs(); "
        "print(sorted(m for m in ('torch', 'pandas', 'textual', 'engine') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
