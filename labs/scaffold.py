"""`cardlab pack new` and `cardlab lab new`: a starting point that passes `pack check` and runs at once.

The lab trains a tiny linear model on generated points with the engine's Learner, so its loss curve
shows on the lab screen; every file is written atomically, and nothing that exists is overwritten.
"""

from __future__ import annotations

import re
from pathlib import Path

from labs.errors import LabError
from labs.files import write_atomic

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

LAB_TOML = '''\
id = "{lab_id}"
title = "Fit a line"
summary = """\\
Generate points on a noisy line and fit a linear model to them with fit_one_cycle. The loss falls \\
towards the noise's variance: no model can do better than the noise."""
cards = [{cards}]
steps = ["data", "train"]

[question]
prompt = "Where does the validation loss end up?"
choices = ["near zero", "near the noise's variance"]

[[params]]
name = "points"
type = "int"
default = 2000
min = 10
max = 1_000_000
help = "points generated"

[[params]]
name = "noise"
type = "float"
default = 0.5
min = 0.0
max = 10.0
help = "standard deviation of the noise added to the line"

[[params]]
name = "epochs"
type = "int"
default = 4
min = 1
max = 100
help = "epochs of fit_one_cycle"

[[params]]
name = "lr"
type = "float"
default = 0.1
min = 1e-6
max = 10.0
help = "maximum learning rate of the one-cycle schedule"

[presets.smoke]  # keep smoke tiny: it is what tests and `pack new` run
points = 64
epochs = 1

[presets.full]
points = 100_000
epochs = 8
'''

LAB_PY = '''\
"""Lab `{lab_id}`: fit a line to noisy points and watch the loss fall to the noise's variance."""

import torch
from torch import nn

from engine.data import DataLoaders, TensorLoader
from engine.learner import Learner


def run(ctx):
    p = ctx.p
    with ctx.stage("data"):
        generator = torch.Generator().manual_seed(ctx.seed)
        x = torch.rand(p.points, 1, generator=generator) * 4 - 2
        y = 3 * x + 1 + torch.randn(p.points, 1, generator=generator) * p.noise
        cut = max(1, p.points * 4 // 5)
        train = TensorLoader(x[:cut], y[:cut], batch_size=32, shuffle=True, generator=generator)
        dls = DataLoaders(train, TensorLoader(x[cut:], y[cut:], batch_size=256))
        ctx.text(f"{{cut}} training points, {{p.points - cut}} held out; y = 3x + 1 + noise")
    with ctx.stage("train"):
        learn = ctx.watch(Learner(nn.Linear(1, 1), dls, nn.functional.mse_loss, device=ctx.device))
        learn.fit_one_cycle(p.epochs, p.lr)
        valid_loss = float(learn.validate()["valid_loss"])
    near_zero, near_noise = ctx.info.question.choices
    variance = p.noise**2
    ctx.table("after training", ["", "value"], [["validation loss", valid_loss], ["noise variance", variance]])
    closer = near_noise if abs(valid_loss - variance) < abs(valid_loss) else near_zero
    ctx.set_predictor(lambda text: f"{{float(learn.model(torch.tensor([[float(text)]])).item()):.3f}}")
    return {{"valid_loss": round(valid_loss, 4), "outcome": closer}}
'''

PACK_TOML = """\
[pack]
id = "{pack_id}"
title = "My pack"
version = "0.1.0"
authors = ["you"]
description = "A pack with a lab of its own (edit me)."
format = 1
labs = ["labs/"]

[[cards]]
id = "noise-floor"
front = "Why does a model's validation loss stop falling above zero on noisy data?"
back = "No model predicts the noise: the loss ends near the noise's variance."
lab = "{lab_id}"

[[cards]]
id = "one-cycle"
type = "cloze"
front = "fit_one_cycle raises the learning rate, then {{{{c1::lowers it}}}} again."
"""


def new_lab(folder: Path, cards: tuple[str, ...] = ()) -> Path:
    """`folder` (its name is the lab id) with a lab.toml and a lab.py that trains a tiny model."""
    lab_id = folder.name
    if not _ID.match(lab_id):
        raise LabError(f"lab id {lab_id!r}: use lowercase letters, digits and single hyphens")
    if folder.exists():
        raise LabError(f"{folder} already exists; choose a new folder")
    listed = ", ".join(f'"{card}"' for card in cards)
    write_atomic(folder / "lab.toml", LAB_TOML.format(lab_id=lab_id, cards=listed))
    write_atomic(folder / "lab.py", LAB_PY.format(lab_id=lab_id))
    return folder


def new_pack(folder: Path, pack_id: str | None = None) -> Path:
    """`folder/<pack id>.toml` with a basic and a cloze card, and `folder/labs/<pack id>-line/`."""
    pack_id = pack_id or folder.name
    if not _ID.match(pack_id):
        raise LabError(f"pack id {pack_id!r}: use lowercase letters, digits and single hyphens (--id)")
    pack = folder / f"{pack_id}.toml"
    if pack.exists():
        raise LabError(f"{pack} already exists")
    lab_id = f"{pack_id}-line"
    new_lab(folder / "labs" / lab_id, cards=("noise-floor",))
    write_atomic(pack, PACK_TOML.format(pack_id=pack_id, lab_id=lab_id))
    return pack
