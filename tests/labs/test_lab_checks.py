"""Issue 14 #9: lab values and `--data` files that used to crash inside a lab fail before any training,
in the app, with one line naming the parameter or the column (labs.checks, each lab's lab.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labs.checks import DataShape
from labs.errors import LabError
from labs.labdir import LabFormatError, read_lab
from labs.registry import all_labs, get_lab
from labs.runner import LabRun
from tests.labs.test_labdir import GOOD, write_lab
from tui.cli import main

RATINGS_HEADER = "userId,movieId,rating,timestamp\n"


def lab_run(tmp_path: Path, *args: str) -> int:
    """`cardlab lab run ... --preset smoke`; the checks must stop it before its process starts."""
    return main(["--home", str(tmp_path / "home"), "lab", "run", *args, "--preset", "smoke", "--no-save"])


@pytest.fixture
def no_lab_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that gets past the checks fails the test instead of training."""

    def start(self: LabRun) -> None:
        raise AssertionError(f"{self.info.id} started a process; the checks should have stopped it")

    monkeypatch.setattr(LabRun, "start", start)


def ratings_csv(tmp_path: Path, rows: int, name: str = "ratings.csv") -> Path:
    path = tmp_path / name
    path.write_text(RATINGS_HEADER + "".join(f"{1 + i % 7},{i},{1 + i % 5},0\n" for i in range(rows)))
    return path


REPRODUCTIONS = [
    (["tabular-time-series", "--set", "window=365"], ["window=365", "days=120", "valid_days=14"]),
    (["tabular", "--set", "layers=abc"], ["layers", "'abc'", "comma-separated"]),
    (["tabular", "--set", "layers=-5,0"], ["layers", "-5", "minimum 1"]),
    (["collab", "--set", "users=5", "--set", "items=5"], ["users=5", "items=5", "ratings=2000"]),
    (["tabular", "--set", "valid_end=700"], ["valid_end=700", "rows=600"]),
    (["lr-find", "--set", "start_lr=0.5", "--set", "end_lr=0.01"], ["start_lr=0.5", "end_lr=0.01"]),
]


@pytest.mark.parametrize(("args", "named"), REPRODUCTIONS, ids=lambda value: str(value))
def test_values_a_lab_cannot_use_fail_before_training_naming_the_parameters(
    args: list[str],
    named: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_lab_process: None,
) -> None:
    code = lab_run(tmp_path, *args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("cardlab lab run: ") and "Traceback" not in err
    for word in named:
        assert word in err


def binary(tmp_path: Path) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_bytes(RATINGS_HEADER.encode() + bytes(range(256)) * 8)
    return path


def latin1(tmp_path: Path) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_bytes(RATINGS_HEADER.encode() + "1,2,3,0\nCafé,2,3,0\n".encode("latin-1"))
    return path


def empty(tmp_path: Path) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_text("")
    return path


def wrong_columns(tmp_path: Path) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    return path


def hostile_header(tmp_path: Path) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_text("\x1b]0;PWNED\x07\x1b[2J,movieId\n1,2\n")
    return path


BAD_DATA = [
    (lambda tmp: ratings_csv(tmp, 1), ["1 data row", "at least 20"]),
    (empty, ["empty", "userId (or user)", "rating"]),
    (wrong_columns, ["no columns userId (or user), movieId (or item), rating", "header has a, b"]),
    (binary, ["not a text file"]),
    (latin1, ["not UTF-8"]),
    (lambda tmp: tmp, ["no u.data"]),
    (hostile_header, ["\\x1b]0;PWNED\\x07\\x1b[2J"]),
]


@pytest.mark.parametrize(
    ("make", "named"), BAD_DATA, ids=["one-row", "empty", "columns", "binary", "latin-1", "folder", "escapes"]
)
def test_a_data_file_of_the_wrong_shape_fails_before_training_naming_what_is_wrong(
    make, named: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_lab_process: None
) -> None:
    (data := tmp_path / "data").mkdir()
    path = make(data)
    assert lab_run(tmp_path, "collab", "--data", str(path)) == 2
    err = capsys.readouterr().err
    assert str(path) in err and err.count("\n") == 1 and "Traceback" not in err and "\x1b" not in err
    for word in named:
        assert word in err


def test_the_cold_start_lab_takes_a_ratings_file_and_checks_its_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_lab_process: None
) -> None:
    shape = get_lab("cold-start").data_shape
    assert shape is not None
    shape.check(ratings_csv(tmp_path, 50))  # ML_SAMPLE's file: the sign-up-answer arms need no metadata
    no_ratings = tmp_path / "no_ratings.csv"
    no_ratings.write_text("userId,movieId\n" + "1,2\n" * 50)
    assert lab_run(tmp_path, "cold-start", "--data", str(no_ratings)) == 2
    assert "rating" in capsys.readouterr().err


def test_a_well_formed_file_passes_and_alternative_column_names_count(tmp_path: Path) -> None:
    shape = get_lab("collab").data_shape
    assert shape is not None
    shape.check(ratings_csv(tmp_path, 20))
    alternative = tmp_path / "other.csv"
    alternative.write_text("user,item,rating\n" + "1,2,3\n" * 20)
    shape.check(alternative)
    shape.check(tmp_path)  # a folder holding ratings.csv (fastai's ML_SAMPLE)


BEYOND_THE_CAP = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18\n"  # a row pandas fails on, if it reads it


def test_the_smoke_preset_caps_the_ratings_read_from_a_big_file(tmp_path: Path) -> None:
    from labs._movielens import load_movielens

    path = ratings_csv(tmp_path, 2000)
    with path.open("a") as file:
        file.write(BEYOND_THE_CAP * 100)
    ml, source = load_movielens(path, 60, 80, get_lab("collab").resolve("smoke")["ratings"], seed=0)
    assert len(ml.ratings) == 2000 and "at most 2000" in source


def test_the_tabular_labs_read_at_most_rows_of_adult_csv(tmp_path: Path) -> None:
    from engine.datasets.tabular import ADULT_COLUMNS
    from labs._census import load_census

    row = (
        "39,State-gov,77516,Bachelors,13,Never-married,Adm-clerical,Not-in-family,White,Male,0,0,40,US,<50k\n"
    )
    path = tmp_path / "adult.csv"
    path.write_text(",".join(ADULT_COLUMNS) + "\n" + row * 600 + BEYOND_THE_CAP)
    frame, _ = load_census(path, get_lab("tabular").resolve("smoke")["rows"], seed=0)
    assert len(frame) == 600


def test_a_check_in_lab_toml_is_validated_with_its_line(tmp_path: Path) -> None:
    checks = '\n[[checks]]\nrequire = "epochs < nope"\n\n[[checks]]\nrequire = "__import__(1)"\n'
    folder = write_lab(tmp_path / "tiny", GOOD.replace('[[params]]\ninclude = "seeds"\n', "") + checks)
    with pytest.raises(LabFormatError) as caught:
        read_lab(folder, {})
    text = str(caught.value)
    assert "no int or float parameter 'nope'" in text and "must be a comparison" in text
    assert all(problem.line > 1 for problem in caught.value.problems)


def test_a_preset_breaking_the_labs_own_check_is_a_lab_toml_problem(tmp_path: Path) -> None:
    checks = '\n[[checks]]\nrequire = "epochs > 1"\nwhy = "two at least"\n'
    folder = write_lab(tmp_path / "tiny", GOOD.replace('[[params]]\ninclude = "seeds"\n', "") + checks)
    with pytest.raises(LabFormatError, match="preset smoke: epochs=1: needs epochs > 1 \\(two at least\\)"):
        read_lab(folder, {})


def test_a_check_dividing_by_a_zero_parameter_fails_as_a_check() -> None:
    from labs.checks import Check, check_values

    with pytest.raises(LabError, match="a=1, b=0: needs a / b < 2"):
        check_values((Check("a / b < 2"),), {"a": 1, "b": 0}, generated=True)


def test_a_generated_only_check_does_not_apply_to_real_data() -> None:
    info = get_lab("collab")
    with pytest.raises(LabError, match="users=5"):
        info.resolve("smoke", {"users": 5, "items": 5}, generated=True)
    assert info.resolve("smoke", {"users": 5, "items": 5}, generated=False)["users"] == 5


def test_shapes_say_which_file_a_folder_lacks(tmp_path: Path) -> None:
    shape = DataShape(min_rows=3, folder_files=("u.data", "u.user"), folder_only=True)
    (tmp_path / "u.data").write_text("1\t2\t3\t0\n" * 3)
    with pytest.raises(LabError, match="no u.user"):
        shape.check(tmp_path)
    (tmp_path / "u.user").write_text("1|24|M\n")
    with pytest.raises(LabError, match="u.user: 1 row; this lab needs at least 3"):
        shape.check(tmp_path)


# -- hypothesis: whatever `--set` holds, only the project's own errors, before any training ---------------

PARAMS = [(info.id, param.name) for info in all_labs() for param in info.params]
TEXT = st.one_of(
    st.integers(-(10**7), 10**7).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.integers(-3, 3000), max_size=4).map(lambda xs: ",".join(map(str, xs))),
    st.sampled_from(
        ["", " ", "true", "no", "lab", "lesson", "1e400", "0x10", "1_000", "١٢", "\x1b[2J", "a=b"]
    ),
    st.text(max_size=12),
)


@st.composite
def assignments(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    lab_id = draw(st.sampled_from(sorted({lab for lab, _ in PARAMS})))
    names = [name for lab, name in PARAMS if lab == lab_id]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4))
    return lab_id, draw(st.sampled_from(["smoke", "quick", "full"])), [f"{n}={draw(TEXT)}" for n in chosen]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assignments())
def test_any_set_value_of_any_declared_parameter_gives_a_value_or_a_lab_error(
    case: tuple[str, str, list[str]],
) -> None:
    lab_id, preset, items = case
    info = get_lab(lab_id)
    try:  # what `cardlab lab run --set ...` does before the lab's process starts
        values = LabRun(info, preset=preset, overrides=info.parse_assignments(items)).params
    except LabError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert set(values) == {param.name for param in info.params}
    for param in info.params:  # what a lab receives is the declared type, within its bounds
        assert param.check(values[param.name]) == values[param.name]


def test_every_declared_parameter_is_drawn() -> None:
    assert len({lab for lab, _ in PARAMS}) == len(all_labs()) >= 9
