"""Renamed cards keep their history: `was = [...]` moves it once; an undeclared rename is pointed out."""

from __future__ import annotations

from pathlib import Path

import pytest

from cards.pack import PackError, content_hash, load_pack
from cards.paths import Home
from cards.renames import Moved, apply_renames, rename_hints
from cards.store import REVIEW, CardRow, ReviewRow, Store
from tests.tui.test_cli_pack import VALID, run
from tui.app import create_app

FRANCE = content_hash("basic", "Capital of **France**?", "Paris", None)
RENAMED = VALID.replace('id = "france"', 'id = "france-capital"')


def studied(home: Home, card_id: str = "france", reviews: int = 5) -> None:
    """`card_id` of "capitals" answered `reviews` times, with the content the card "france" has."""
    with Store.open(home.store_path) as store, store.transaction():
        store.put_card_row(CardRow("capitals", card_id, FRANCE, state=REVIEW, stability=9.5, reps=reviews))
        store.add_reviews(
            ReviewRow("capitals", card_id, FRANCE, 3, REVIEW, REVIEW, day * 86_400_000, 900, 0, 9.5, 5.0)
            for day in range(reviews)
        )


def history(home: Home, card_id: str) -> tuple[CardRow | None, int]:
    with Store.open(home.store_path) as store:
        return store.card_row("capitals", card_id), len(store.reviews("capitals", card_id))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "capitals.toml"
    path.write_text(text)
    return path


def test_was_moves_state_and_reviews_to_the_new_id_exactly_once(tmp_path: Path) -> None:
    home = Home.at(tmp_path / "home").ensure()
    studied(home)
    pack = load_pack(write(tmp_path, RENAMED.replace('back = "Paris"', 'back = "Paris"\nwas = ["france"]')))
    assert pack.renames == (("france", "france-capital"),)
    with Store.open(home.store_path) as store:
        assert apply_renames(store, pack) == [Moved("capitals", "france", "france-capital", 5)]
        assert apply_renames(store, pack) == []  # idempotent: nothing is left under the old id
    row, reviews = history(home, "france-capital")
    assert (row.stability, row.reps, reviews) == (9.5, 5, 5)
    assert history(home, "france") == (None, 0)


def test_the_app_applies_was_when_it_loads_the_pack(tmp_path: Path) -> None:
    home = Home.at(tmp_path / "home").ensure()
    studied(home)
    text = RENAMED.replace('back = "Paris"', 'back = "Paris"\nwas = ["france"]').replace('lab = "maps"\n', "")
    app = create_app(home, pack_filter=str(write(tmp_path, text)))
    app.store.close()
    assert history(home, "france-capital")[1] == 5 and history(home, "france") == (None, 0)


def test_was_never_overwrites_history_the_new_id_has(tmp_path: Path) -> None:
    home = Home.at(tmp_path / "home").ensure()
    studied(home, "france", 5)
    studied(home, "france-capital", 2)
    pack = load_pack(write(tmp_path, RENAMED.replace('back = "Paris"', 'back = "Paris"\nwas = ["france"]')))
    with Store.open(home.store_path) as store:
        assert apply_renames(store, pack) == []
    assert history(home, "france")[1] == 5 and history(home, "france-capital")[1] == 2


def test_a_cloze_note_renames_each_deletion_card(tmp_path: Path) -> None:
    text = VALID.replace('id = "spain-italy"', 'id = "south"\nwas = ["spain-italy"]')
    assert load_pack(write(tmp_path, text)).renames == (
        ("spain-italy#c1", "south#c1"),
        ("spain-italy#c2", "south#c2"),
    )


def test_was_naming_a_card_still_in_the_pack_is_a_problem_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace('back = "Paris"', 'back = "Paris"\nwas = ["spain-italy", "Bad Id"]'))
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert [str(problem) for problem in caught.value.problems] == [
        f'{path}:13: was "Bad Id" is not a valid card id: use lowercase letters, digits and single hyphens '
        '(e.g. "bad-id")',
    ]
    path = write(tmp_path, VALID.replace('back = "Paris"', 'back = "Paris"\nwas = ["spain-italy"]'))
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert [str(problem) for problem in caught.value.problems] == [
        f'{path}:13: was = ["spain-italy"] names a card that is still in this pack (line 18): history only '
        'moves from an id that left the pack; remove "spain-italy" from was'
    ]


def test_pack_check_points_out_an_undeclared_rename(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = Home.at(tmp_path / "home").ensure()
    studied(home)
    path = write(tmp_path, RENAMED.replace('lab = "maps"\n', ""))
    code, out, err = run(capsys, "--home", str(home.data_dir.parent), "pack", "check", str(path))
    assert code == 0 and out[0].startswith("capitals 1.2.0")
    assert err == [
        f"{path}:9: warning: card `france` has 5 reviews but is gone; did you rename it to `france-capital`? "
        'add `was = ["france"]` to keep its history'
    ]
    with Store.open(home.store_path) as store:  # declared, or content that differs: no hint
        assert rename_hints(store, load_pack(path)) != []
        declared = RENAMED.replace('back = "Paris"', 'back = "Paris"\nwas = ["france"]')
        assert rename_hints(store, load_pack(write(tmp_path, declared))) == []
        assert rename_hints(store, load_pack(write(tmp_path, RENAMED.replace("Paris", "Lyon")))) == []
