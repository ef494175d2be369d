"""Finding packs: bundled ones, the user's folder, and adding a pack there."""

from __future__ import annotations

from pathlib import Path

import pytest

from cards.discover import add_pack, bundled_pack_paths, discover_packs, user_pack_paths
from cards.pack import PackError
from cards.paths import Home
from tests.cards.test_pack import VALID


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home.at(tmp_path / "home")


def test_bundled_packs_are_found_inside_the_package() -> None:
    assert [path.name for path in bundled_pack_paths()] == ["lesson4.toml"]


def test_discover_loads_bundled_and_user_packs_and_reports_broken_ones(home: Home) -> None:
    home.packs_dir.mkdir(parents=True)
    (home.packs_dir / "capitals.toml").write_text(VALID)
    (home.packs_dir / "broken.toml").write_text("[pack\n")
    (home.packs_dir / "copy.toml").write_text(VALID)

    packs, errors = discover_packs(home)

    assert [pack.id for pack in packs] == ["fastai-lesson4", "capitals"]
    assert [error.problems[0].file.name for error in errors] == ["broken.toml", "copy.toml"]
    assert 'pack id "capitals" is already used by' in errors[1].problems[0].message


def test_add_pack_copies_a_valid_pack_under_its_id(home: Home, tmp_path: Path) -> None:
    source = tmp_path / "mine.toml"
    source.write_text(VALID)
    destination = add_pack(home, source)
    assert destination == home.packs_dir / "capitals.toml"
    assert destination.read_text() == VALID
    assert user_pack_paths(home) == [destination]


def test_add_pack_refuses_an_invalid_pack(home: Home, tmp_path: Path) -> None:
    source = tmp_path / "bad.toml"
    source.write_text(VALID.replace('back = "Paris"', ""))
    with pytest.raises(PackError, match="missing required key"):
        add_pack(home, source)
    assert user_pack_paths(home) == []


def test_add_pack_refuses_a_bundled_id(home: Home, tmp_path: Path) -> None:
    source = tmp_path / "clash.toml"
    source.write_text(VALID.replace('id = "capitals"', 'id = "fastai-lesson4"'))
    with pytest.raises(PackError) as caught:
        add_pack(home, source)
    [problem] = caught.value.problems
    assert problem.line == 2 and "already used by the bundled pack" in problem.message


def test_add_pack_updates_the_users_pack_only_with_replace(home: Home, tmp_path: Path) -> None:
    source = tmp_path / "mine.toml"
    source.write_text(VALID)
    add_pack(home, source)
    source.write_text(VALID.replace('version = "1.2.0"', 'version = "1.3.0"'))
    with pytest.raises(PackError, match="pass --replace"):
        add_pack(home, source)
    destination = add_pack(home, source, replace=True)
    assert 'version = "1.3.0"' in destination.read_text()


def test_a_pack_folder_in_the_packs_folder_is_found_but_not_its_lab_files(home: Home) -> None:
    folder = home.packs_dir / "my-pack"
    (folder / "labs" / "fit").mkdir(parents=True)
    (folder / "my-pack.toml").write_text(VALID, encoding="utf-8")
    (folder / "labs" / "fit" / "lab.toml").write_text('id = "fit"\n', encoding="utf-8")
    (home.packs_dir / "stray").mkdir()
    (home.packs_dir / "stray" / "lab.toml").write_text('id = "x"\n', encoding="utf-8")
    assert user_pack_paths(home) == [folder / "my-pack.toml"]
