"""Which data a run uses: the lab's real dataset when it is cached, generated data offline (saying how to get
the real one), `--data generated` on request; what run.json's "data" keeps; the seeds and the smoke rule."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cards.paths import Home
from engine.datasets.fetch import VERIFIED_MARKER, dataset_dir
from labs.context import LabContext
from labs.data_choice import choose_data
from labs.events import DataUsed, LabEvent
from labs.info import LabInfo, Param, make_presets
from labs.runs import RunRecord
from labs.spec import RunSpec
from labs.verdict import SMOKE
from tests.labs.test_run_state import running_record

SEEDS = Param(name="seeds", type="int", default=3, help="seeds", min=1, max=20)


def lab_info() -> LabInfo:
    return LabInfo(
        id="data-choice",
        title="t",
        summary="s",
        card_ids=(),
        params=(SEEDS,),
        presets=make_presets({"seeds": 1}, {}),
        question=None,
        module="labs.data_choice",
        real_data=("imdb_sample", "imdb"),
        reference="the lesson: 0.94",
    )


def context(
    tmp_path: Path, data: str | None = None, preset: str = "quick"
) -> tuple[LabContext, list[LabEvent]]:
    home = Home.at(tmp_path / "home").ensure()
    info = lab_info()
    spec = RunSpec(
        info=info,
        params=info.resolve(preset),
        run_id="r",
        preset=preset,
        seed=10,
        data=data,
        data_choice=choose_data(info, preset, data, home),
        home=home,
    )
    events: list[LabEvent] = []
    ctx = LabContext(spec, events.append, threading.Event())
    return ctx, events


def cache(tmp_path: Path, name: str) -> Path:
    folder = dataset_dir(name, Home.at(tmp_path / "home").ensure())
    folder.mkdir(parents=True)
    (folder / VERIFIED_MARKER).write_text("ok")
    return folder


def test_offline_the_run_generates_and_says_how_to_get_the_real_data(tmp_path: Path) -> None:
    ctx, events = context(tmp_path)
    ctx.prepare()
    ctx.report_data(120, unit="reviews", generator="generated reviews")
    assert ctx.data is None and ctx.data_source == "generated"
    (used,) = [e for e in events if isinstance(e, DataUsed)]
    assert (used.source, used.name, used.rows, used.unit) == (
        "generated",
        "generated reviews",
        120,
        "reviews",
    )
    assert "cardlab data fetch imdb_sample" in used.note


def test_a_cached_real_dataset_is_the_default(tmp_path: Path) -> None:
    folder = cache(tmp_path, "imdb")  # the second choice: the first is not cached
    ctx, events = context(tmp_path)
    ctx.prepare()
    ctx.report_data(1000, unit="reviews")
    assert ctx.data == folder and ctx.data_source == "real"
    (used,) = [e for e in events if isinstance(e, DataUsed)]
    assert (used.source, used.name, used.note) == ("real", "imdb", "")


def test_data_generated_forces_the_fallback_even_when_real_data_is_cached(tmp_path: Path) -> None:
    cache(tmp_path, "imdb_sample")
    ctx, events = context(tmp_path, data="generated")
    ctx.prepare()
    ctx.report_data(10)
    assert ctx.data is None
    assert [e.source for e in events if isinstance(e, DataUsed)] == ["generated"]


def test_run_json_keeps_what_the_lab_used_and_the_argument_as_typed() -> None:
    record = running_record(data="generated")
    record.apply(DataUsed(source="generated", name="gen", rows=5, unit="rows", note="offline"))
    assert record.data == {
        "source": "generated",
        "name": "gen",
        "rows": 5,
        "unit": "rows",
        "note": "offline",
        "argument": "generated",
    }
    assert RunRecord.from_json(record.to_json()).data == record.data


def test_seeds_count_up_from_the_run_seed_and_smoke_gives_no_verdict(tmp_path: Path) -> None:
    quick, _ = context(tmp_path)
    assert quick.seeds == [10, 1010, 2010]  # runs with other --seed values share none of them
    assert quick.judge("c", [0.1, 0.2, 0.15]).agrees is True
    assert quick.judge("c", [0.1, 0.2, 0.15]).reference == "the lesson: 0.94"
    smoke, _ = context(tmp_path, preset="smoke")
    assert smoke.seeds == [10]
    verdict = smoke.judge("c", {"a": [0.5], "b": [0.4]})
    assert verdict.agrees is None and verdict.note == SMOKE


@pytest.mark.parametrize("agrees", [True, False])
def test_a_verdict_survives_json_and_reads_back_with_its_threshold(agrees: bool) -> None:
    from labs.verdict import judge_seeds
    from labs.verdict_text import detection_line, verdict_lines, verdict_of

    effects = [0.1, 0.12, 0.11] if agrees else [-0.1, -0.12, -0.11]
    saved = {"verdict": judge_seeds("c", effects, metric="accuracy", reference="paper: 5.0").to_dict()}
    verdict = verdict_of(saved)
    assert verdict is not None and verdict.agrees is agrees and verdict.seeds == 3
    line = detection_line(verdict)
    assert line is not None and "3 seeds" in line and "accuracy" in line and "could detect" in line
    text = "\n".join("".join(piece for piece, _ in row) for row in verdict_lines(saved))
    assert "paper: 5.0" in text


def test_the_lab_process_uses_the_choice_made_in_the_app_and_never_decides_again(tmp_path: Path) -> None:
    ctx, _ = context(tmp_path)  # chosen while the real data was not cached: generated
    cache(tmp_path, "imdb_sample")  # fetched meanwhile
    ctx.prepare()
    assert ctx.data is None and "cardlab data fetch imdb_sample" in ctx.data_fallback_note


def test_a_data_argument_that_names_nothing_is_refused_before_any_process(tmp_path: Path) -> None:
    from labs.errors import LabError
    from labs.runner import LabRun

    home = Home.at(tmp_path / "home").ensure()
    with pytest.raises(LabError, match="no such file or folder"):
        LabRun(lab_info(), data="./nowhere.csv", home=home)
    with pytest.raises(LabError, match="not fetched yet"):
        LabRun(lab_info(), data="imdb_sample", home=home)


def test_the_full_preset_without_its_dataset_is_refused_saying_how_to_fetch_it(tmp_path: Path) -> None:
    from dataclasses import replace

    from labs.errors import LabError
    from labs.runner import LabRun

    home = Home.at(tmp_path / "home").ensure()
    info = replace(lab_info(), full_data="imdb")
    with pytest.raises(LabError, match="cardlab data fetch imdb"):
        LabRun(info, preset="full", home=home)
    cache(tmp_path, "imdb")
    assert choose_data(info, "full", None, home).path == str(dataset_dir("imdb", home))
