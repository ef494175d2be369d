"""`RunSpec`: everything one lab run needs, resolved once in the app and handed to the lab's process.

It travels to `python -m labs.worker` as one JSON line. It carries the lab's metadata itself (not only
its id), so the worker needs no registry: a lab from a pack folder or a test lab runs the same way.
Everything is decided before it leaves: the parameters are typed and checked (with the lab's `checks`),
the data is chosen and checked against the lab's `data_shape` (`labs.data_choice`), the home is typed.
So `checks` and `data_shape` do not travel: the lab's process has nothing left to decide with them.
Torch-free.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cards.paths import Home
from labs.data_choice import DataChoice
from labs.info import LabInfo, Param, ParamValue, Question, make_presets
from labs.presets import DEFAULT_PRESET


@dataclass(frozen=True)
class RunSpec:
    info: LabInfo
    params: dict[str, ParamValue]  # checked values of the preset with the overrides on top
    run_id: str
    preset: str = DEFAULT_PRESET
    device: str = "auto"
    seed: int = 42
    data: str | None = None  # `--data NAME|PATH` as typed
    data_choice: DataChoice = DataChoice()  # what the run trains on, decided in the app (labs.data_choice)
    work_dir: Path | None = None  # runs_dir/run_id; None: a temporary folder, removed after the run
    home: Home | None = None  # datasets and the model store; None: Home.resolve() when a lab needs it
    cpu_threads: int | None = None  # None: one thread for the small presets on CPU (see LabContext)

    def to_json(self) -> str:
        data = {
            **{key: getattr(self, key) for key in ("params", "run_id", "preset", "device", "seed", "data")},
            "info": info_to_dict(self.info),
            "work_dir": str(self.work_dir) if self.work_dir else None,
            "home": {key: str(value) for key, value in asdict(self.home).items()} if self.home else None,
            "cpu_threads": self.cpu_threads,
            "data_choice": asdict(self.data_choice),
        }
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data = json.loads(text)
        home = data.pop("home")
        work_dir = data.pop("work_dir")
        data["data_choice"] = DataChoice(**data.get("data_choice", {}))
        return cls(
            **{**data, "info": info_from_dict(data["info"])},
            work_dir=Path(work_dir) if work_dir else None,
            home=Home(**{key: Path(value) for key, value in home.items()}) if home else None,
        )


def info_to_dict(info: LabInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "summary": info.summary,
        "card_ids": list(info.card_ids),
        "params": [asdict(param) for param in info.params],
        "presets": {name: dict(values) for name, values in info.presets.items()},
        "question": asdict(info.question) if info.question else None,
        "module": info.module,
        "steps": list(info.steps),
        "full_data": info.full_data,
        "real_data": list(info.real_data),
        "reference": info.reference,
        "folder": str(info.folder) if info.folder else None,
    }


def info_from_dict(data: dict[str, Any]) -> LabInfo:
    question = data["question"]
    presets = data["presets"]
    return LabInfo(
        id=data["id"],
        title=data["title"],
        summary=data["summary"],
        card_ids=tuple(data["card_ids"]),
        params=tuple(Param(**{**p, "choices": tuple(p["choices"])}) for p in data["params"]),
        presets=make_presets(presets["smoke"], presets["full"], presets["quick"]),
        question=Question(question["prompt"], tuple(question["choices"])) if question else None,
        module=data["module"],
        steps=tuple(data["steps"]),
        full_data=data["full_data"],
        real_data=tuple(data.get("real_data", ())),
        reference=data.get("reference", ""),
        folder=Path(data["folder"]) if data["folder"] else None,
    )
