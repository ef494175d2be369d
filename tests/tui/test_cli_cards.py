"""`cardlab cards [QUERY] [--json]` and `cardlab cards ACTION QUERY`."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cards import card_actions
from cards.paths import Home
from cards.store import REVIEW, CardRow, ReviewRow, Store
from tests.tui.study_helpers import SAMPLE_PACK, card_state, make_home
from tui.card_rows import DONE
from tui.cli import main
from tui.commands import cards as cards_command

DAY_MS = 86_400_000


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """The sample pack; `embedding` reviewed (due in 5 days, 2 lapses); an orphan `gone` with one review."""
    home = make_home(tmp_path, {"sample.toml": SAMPLE_PACK})
    now_ms = round(datetime.now(UTC).timestamp() * 1000)
    with Store.open(home.store_path) as store, store.transaction():
        store.put_card_row(
            CardRow(
                "sample",
                "embedding",
                "h",
                state=REVIEW,
                stability=12.0,
                difficulty=4.0,
                due_ms=now_ms + 5 * DAY_MS,
                last_review_ms=now_ms - DAY_MS,
                reps=6,
                lapses=2,
            )
        )
        store.put_card_row(CardRow("sample", "gone", "h", state=REVIEW, stability=3.0, reps=1))
        store.add_review(ReviewRow("sample", "gone", "h", 3, 0, 1, now_ms - DAY_MS, 900, now_ms, 3.0, 5.0))
    return home


def cardlab(home: Home, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--home", str(home.data_dir.parent), "cards", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_listing_prints_a_table_and_a_count(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cardlab(home, capsys, "pack:sample")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "Pack",
        "Card",
        "State",
        "Due",
        "Ivl",
        "S",
        "D",
        "R",
        "now",
        "Reviews",
        "Lapses",
        "Flags",
    ]
    embedding = next(line for line in lines if " embedding " in line).split()
    assert embedding[2:5] == ["review", "in", "5d"] and embedding[5:8] == ["6d", "12.0", "4.0"]
    assert embedding[-3:] == ["6", "2", "edited"]  # the stored hash "h" is not the card's
    assert "gone" in out and "orphaned" in out
    assert lines[-1] == "7 cards"  # 4 basic cards, the 2 cards of a cloze note, the orphan
    code, out, _ = cardlab(home, capsys, "--limit", "2", "pack:sample")
    assert out.splitlines()[-1] == "7 cards (the first 2 shown: --limit)" and len(out.splitlines()) == 4


def test_json_rows_carry_the_documented_fields(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cardlab(home, capsys, "--json", "card:embedding")
    (row,) = json.loads(out)
    for key in (
        "pack",
        "card",
        "state",
        "due",
        "suspended",
        "buried",
        "leech",
        "reviews",
        "lapses",
        "stability",
        "difficulty",
        "retrievability",
    ):
        assert key in row
    assert (row["pack"], row["card"], row["state"], row["reviews"], row["lapses"]) == (
        "sample",
        "embedding",
        "review",
        6,
        2,
    )
    assert row["stability"] == 12.0 and 0.9 < row["retrievability"] < 1 and row["due"].endswith("Z")
    assert row["file"].endswith("sample.toml") and row["line"] > 1


def test_actions_say_how_many_changed(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert cardlab(home, capsys, "suspend", "pack:sample", "-is:orphaned")[1] == (
        "suspended: 6 of 6 cards matching changed\n"
    )
    assert card_state(home, "dropout")["suspended"] == 1
    assert cardlab(home, capsys, "suspend", "card:dropout")[1] == "suspended: 0 of 1 card matching changed\n"
    assert (
        cardlab(home, capsys, "unsuspend", "is:suspended")[1]
        == "unsuspended: 6 of 6 cards matching changed\n"
    )
    assert (
        cardlab(home, capsys, "bury", "card:ulmfit")[1]
        == "buried until tomorrow: 2 of 2 cards matching changed\n"
    )
    assert cardlab(home, capsys, "unbury", "pack:sample")[1] == "unburied: 2 of 7 cards matching changed\n"
    assert (
        cardlab(home, capsys, "due-today", "card:embedding")[1]
        == "made due today: 1 of 1 card matching changed\n"
    )
    assert (
        cardlab(home, capsys, "reset", "prop:lapses>=2")[1] == "reset to new: 1 of 1 card matching changed\n"
    )
    assert card_state(home, "embedding")["state"] == 0


def test_delete_orphans_touches_only_history_in_no_pack(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cardlab(home, capsys, "delete-orphans", "pack:sample")
    assert out == "deleted the history of 1 card in no pack (1 review)\n"
    assert card_state(home, "gone") is None and card_state(home, "embedding") is not None
    assert cardlab(home, capsys, "is:orphaned")[1] == "0 cards\n"


def test_a_bad_query_is_one_line_naming_its_column(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cardlab(home, capsys, "tag:collab", "is:soon")
    assert code == 1 and out == ""
    assert (
        err == "cardlab: bad query at column 12 ('is:soon'): unknown is:soon; use is:new, is:learn, "
        "is:review, is:due, is:suspended, is:buried, is:leech, is:edited, is:orphaned\n"
    )
    assert cardlab(home, capsys, "--limit", "0")[2] == "cardlab: --limit must be at least 1, not 0\n"


def shell(home: Home, capsys: pytest.CaptureFixture[str], command: str) -> tuple[int, str, str]:
    """`command` as a shell passes it: `cardlab cards ...` split into argv by shlex (quotes as in sh)."""
    argv = shlex.split(command)
    assert argv[:2] == ["cardlab", "cards"]
    code = main(["--home", str(home.data_dir.parent), *argv[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def listed(home: Home, capsys: pytest.CaptureFixture[str], command: str) -> list[str]:
    code, out, err = shell(home, capsys, command)
    assert code == 0 and err == "", err
    return [f"{row['pack']}/{row['card']}" for row in json.loads(out)]


def in_the_browser(home: Home, text: str) -> list[str]:
    """The cards the browser's search box lists for `text` (the same search the browser screen runs)."""
    from cards.config import load_config
    from cards.discover import discover_packs
    from cards.query import parse_query, search

    packs, _ = discover_packs(home)
    with Store.open(home.store_path) as store:
        result = search(store, packs, parse_query(text), datetime.now(UTC), load_config(home))
    return [f"{row.pack_id}/{row.card_id}" for row in result.rows]


NEW_IN_SAMPLE = [
    "sample/dropout",
    "sample/weight-decay",
    "sample/cold-start",
    "sample/ulmfit#c1",
    "sample/ulmfit#c2",
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # the issue's: 2 on a fresh home, both in the bundled pack
        ("tag:collab is:new", ["fastai-lesson4/collaborative-filtering", "fastai-lesson4/cold-start"]),
        ("pack:sample tag:collab is:review", ["sample/embedding"]),
        ("pack:sample is:new", NEW_IN_SAMPLE),
        ("pack:sample (tag:collab or is:new)", ["sample/embedding", *NEW_IN_SAMPLE]),
        ("pack:sample -is:new", ["sample/embedding", "sample/gone"]),
        ("pack:sample lookup table", ["sample/embedding"]),
        ("pack:sample table lookup", ["sample/embedding"]),  # two words, anywhere in the card
        ("tag:collab or is:new", None),  # matches in the bundled pack too: only the same
        ("tag:collab is:due prop:r<0.8", None),  # the README's
    ],
)
def test_a_quoted_query_means_the_same_as_unquoted_and_in_the_browser(
    home: Home, capsys: pytest.CaptureFixture[str], query: str, expected: list[str] | None
) -> None:
    quoted = listed(home, capsys, f"cardlab cards --json '{query}'")
    unquoted = listed(home, capsys, f"cardlab cards --json {query}")
    assert sorted(quoted) == sorted(unquoted) == sorted(in_the_browser(home, query))
    assert expected is None or sorted(quoted) == sorted(expected)
    assert expected is not None or "tag:collab or" not in query or len(quoted) > 2


def test_a_phrase_is_written_in_double_quotes_inside_the_query(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    assert listed(home, capsys, """cardlab cards --json '"lookup table" tag:collab'""") == [
        "sample/embedding"
    ]
    assert listed(home, capsys, """cardlab cards --json '"table lookup"'""") == []
    assert listed(home, capsys, """cardlab cards --json '"table lookup"'""") == in_the_browser(
        home, '"table lookup"'
    )
    assert listed(home, capsys, """cardlab cards --json '"a lookup table"'""") == ["sample/embedding"]


def test_a_query_may_start_with_a_negated_term(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    """`cardlab cards -is:new` (no `--` needed): a leading `-term` is the query, never an option."""
    assert sorted(listed(home, capsys, "cardlab cards --json -is:new")) == ["sample/embedding", "sample/gone"]
    assert sorted(listed(home, capsys, "cardlab cards -is:new -tag:collab --json")) == ["sample/gone"]
    negated = sorted(listed(home, capsys, "cardlab cards --json -- -is:new"))  # `--` still works
    assert negated == ["sample/embedding", "sample/gone"]
    code, out, err = shell(home, capsys, "cardlab cards -is:new")
    assert code == 0 and err == "" and out.splitlines()[-1] == "2 cards"
    code, out, _ = shell(home, capsys, "cardlab cards --limit 1 -is:new")
    assert code == 0 and out.splitlines()[-1] == "2 cards (the first 1 shown: --limit)"
    code, out, _ = shell(home, capsys, "cardlab cards suspend -tag:collab -is:new")
    assert code == 0 and out == "suspended: 1 of 1 card matching changed\n"  # `gone` is in no pack
    assert card_state(home, "embedding")["suspended"] == 0


def test_the_command_knows_every_action() -> None:
    assert cards_command.ACTIONS == card_actions.ACTIONS
    assert set(DONE) == set(card_actions.ACTIONS)


def test_a_broken_pack_is_named_in_one_line_and_the_rest_still_listed(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = home.packs_dir / "broken.toml"
    cards = "".join(f'\n[[cards]]\nid = "c{index}"\nback = "no front"\n' for index in range(3))
    broken.write_text(SAMPLE_PACK.split("[[cards]]")[0].replace('"sample"', '"broken"') + cards)
    code, out, err = cardlab(home, capsys, "pack:sample")
    assert code == 0 and out.splitlines()[-1] == "7 cards"
    [line] = err.splitlines()
    assert line.startswith(f"cardlab: skipped a pack that does not load: {broken}:10:")
    assert line.endswith(" (and 2 more problems: cardlab pack check)")


def test_cardlab_stats_names_one_orphan_in_the_singular(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(home.data_dir.parent), "stats"]) == 0
    out = capsys.readouterr().out
    assert "1 reviewed card is no longer in any pack (history kept; --json lists them)" in out
