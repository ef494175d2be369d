"""Anki in and out on the committed fixtures (made by real Anki: tests/fixtures/anki/make_fixtures.py).
No test imports the `anki` package."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cards.anki import AnkiError
from cards.anki.csvfile import read_csv, write_csv
from cards.anki.export import export_anki
from cards.anki.history import SKIP_CRAM, SKIP_MANUAL
from cards.anki.html import html_to_markdown
from cards.anki.importer import import_anki, pack_path
from cards.anki.package import Package
from cards.anki.protobuf import fields
from cards.config import Config
from cards.pack import load_pack
from cards.store import REVIEW, Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anki"
PACKAGES = ("modern.apkg", "legacy.apkg", "full.colpkg")
NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
CONFIG = Config(timezone="UTC")


def run_import(tmp_path: Path, name: str, store: Store | None = None):  # noqa: ANN201
    store = store or Store.open(tmp_path / "store.sqlite3")
    summary = import_anki(FIXTURES / name, tmp_path / "packs", store, CONFIG, NOW)
    return summary, store


def pack_texts(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(folder.glob("*/*.toml"))}


def review_rows(store: Store) -> list[tuple]:
    return [
        (r.pack_id, r.card_id, r.rating, r.reviewed_at_ms, r.duration_ms, r.state_after)
        for r in store.reviews()
    ]


def state_rows(store: Store) -> dict:
    return {
        key: (row.state, row.stability, row.due_ms, row.suspended, row.buried_until_ms)
        for key, row in store.card_rows().items()
    }


def test_modern_legacy_and_colpkg_give_the_same_packs_and_reviews(tmp_path: Path) -> None:
    results = []
    for name in PACKAGES:
        summary, store = run_import(tmp_path / name, name)
        results.append((pack_texts(tmp_path / name / "packs"), review_rows(store), state_rows(store)))
        assert (summary.notes, summary.cards, summary.reviews_imported) == (6, 9, 12)
        assert dict(summary.unknown_types) == {"Vocab": 1}
        assert summary.reviews_skipped[SKIP_MANUAL] == 1 and summary.reviews_skipped[SKIP_CRAM] == 1
        assert summary.media == 1
    assert results[0] == results[1] == results[2]
    assert set(results[0][0]) == {"fixture-lesson-4.toml", "fixture-other.toml"}


def test_importing_twice_changes_nothing(tmp_path: Path) -> None:
    _, store = run_import(tmp_path, "modern.apkg")
    before = (pack_texts(tmp_path / "packs"), review_rows(store), state_rows(store))
    summary, _ = run_import(tmp_path, "modern.apkg", store)
    assert summary.reviews_imported == 0 and summary.media == 0
    assert not any(pack.changed for pack in summary.packs)
    assert (pack_texts(tmp_path / "packs"), review_rows(store), state_rows(store)) == before
    summary, _ = run_import(tmp_path, "legacy.apkg", store)  # the same deck by another route: no copies
    assert summary.reviews_imported == 0 and store.review_count() == 12


def test_the_placeholder_note_never_appears(tmp_path: Path) -> None:
    with Package(FIXTURES / "modern.apkg") as package:
        assert package.collection_name == "collection.anki21b"
    run_import(tmp_path, "modern.apkg")
    assert "Please update" not in "".join(pack_texts(tmp_path / "packs").values())


def test_cards_tags_flags_media_and_history(tmp_path: Path) -> None:
    _, store = run_import(tmp_path, "full.colpkg")
    lesson = load_pack(pack_path(tmp_path / "packs", "fixture-lesson-4"))
    other = load_pack(pack_path(tmp_path / "packs", "fixture-other"))
    assert lesson.title == "Fixture::Lesson 4"
    basic, forward, backward, cloze1, cloze2 = lesson.cards
    assert basic.front == "What does **ULMFiT** stand for? *(three words)*"
    assert basic.tags == ("lesson4::ulmfit", "nlp")
    assert (
        (forward.front, forward.back)
        == (backward.back, backward.front)
        == ("AWD-LSTM", "an LSTM with *dropout* everywhere")
    )
    assert backward.id == forward.id + "-card2"
    assert (cloze1.id, cloze2.id) == (cloze1.note_id + "#c1", cloze1.note_id + "#c2")
    assert (
        cloze1.front
        == "The {{c1::tokenizer}} splits text; the {{c2::numericalizer::a step}} maps tokens to ids."
    )
    assert (
        (tmp_path / "packs" / "fixture-lesson-4" / "media" / "ulmfit.png").read_bytes().startswith(b"\x89PNG")
    )
    optional, optional_reverse, typed, vocab = other.cards
    assert (typed.front, typed.back) == ("2 + 2 =", "4")
    assert (vocab.front, vocab.back) == ("embedding", "a learned vector\n\nnn.Embedding")
    rows = store.card_rows()
    assert rows[("fixture-other", typed.id)].suspended
    assert rows[("fixture-other", optional_reverse.id)].buried_until_ms > int(NOW.timestamp() * 1000)
    history = store.reviews("fixture-lesson-4", basic.id)
    assert [review.rating for review in history] == [3, 3, 1, 3]
    assert [review.duration_ms for review in history] == [8000, 5000, 9000, 4000]
    assert (
        rows[("fixture-lesson-4", basic.id)].lapses == 1
        and rows[("fixture-lesson-4", basic.id)].state == REVIEW
    )
    assert [review.rating for review in store.reviews("fixture-lesson-4", backward.id)] == [
        2,
        3,
    ]  # manual row skipped


def test_html_becomes_clean_markdown() -> None:
    html = (
        "<b>Universal</b> fine-tuning:<ul><li>pretrain</li><li>fine-tune</li></ul>"
        "<pre>learn.fit_one_cycle(1)</pre>Unknown words become &lt;unk&gt; &amp; co.&nbsp;x<br>"
        'H<sub>2</sub>O, x<sup>2</sup> <code>Tokenizer</code><img src="a b.png"><img src="gone.png">[sound:s.mp3]'
    )
    text, media = html_to_markdown(html, {"a b.png", "s.mp3"}, "media")
    assert text == (
        "**Universal** fine-tuning:\n\n- pretrain\n- fine-tune\n\n```\nlearn.fit_one_cycle(1)\n```\n\n"
        "Unknown words become <unk> & co. x\\\nH2O, x^2 `Tokenizer`![a b.png](<media/a b.png>)[image: gone.png]"
        "[sound: s.mp3](media/s.mp3)"
    )
    assert media == ["a b.png", "s.mp3"]


def test_export_then_import_gives_the_same_cards(tmp_path: Path) -> None:
    run_import(tmp_path / "first", "modern.apkg")
    packs = [load_pack(path) for path in sorted((tmp_path / "first" / "packs").glob("*/*.toml"))]
    notes, media = export_anki(packs, tmp_path / "out.apkg")
    assert (notes, media) == (8, 1)
    with zipfile.ZipFile(tmp_path / "out.apkg") as archive:
        assert "collection.anki2" in archive.namelist()  # genanki writes the legacy 1 format
    summary, _ = run_import(tmp_path / "second", str(tmp_path / "out.apkg"))  # an absolute path wins
    again = [load_pack(path) for path in sorted((tmp_path / "second" / "packs").glob("*/*.toml"))]
    assert summary.reviews_imported == 0

    def cards(found):  # noqa: ANN001, ANN202
        return [(p.id, p.title, [(c.id, c.type, c.front, c.back, c.tags) for c in p.cards]) for p in found]

    assert cards(again) == cards(packs)
    assert (tmp_path / "second" / "packs" / "fixture-lesson-4" / "media" / "ulmfit.png").is_file()


def test_csv_import_anki_notes_export_and_plain(tmp_path: Path) -> None:
    anki = tmp_path / "notes.txt"
    anki.write_text(
        "#separator:tab\n#html:true\n#notetype column:1\n#tags column:4\n"
        "Basic\t<b>bold</b> question\tthe answer\tnlp lesson4\n"
        "Cloze\tThe {{c1::tokenizer}} splits\t\t\n"
    )
    pack = read_csv(anki)
    assert [(card.type, card.front, card.back, card.tags) for card in pack.cards] == [
        ("basic", "**bold** question", "the answer", ("nlp", "lesson4")),
        ("cloze", "The {{c1::tokenizer}} splits", "", ()),
    ]
    plain = tmp_path / "plain.csv"
    plain.write_text('front,back,tags\n"What, with a comma?",yes,a b\nSecond,two\n')
    pack = read_csv(plain)
    assert [(card.front, card.back, card.tags) for card in pack.cards] == [
        ("What, with a comma?", "yes", ("a", "b")),
        ("Second", "two", ()),
    ]
    broken = tmp_path / "broken.csv"
    broken.write_text("front,back\nonly a front\n")
    with pytest.raises(AnkiError, match=r"broken.csv:2: a card needs a front and a back"):
        read_csv(broken)


def test_csv_export_reads_back(tmp_path: Path) -> None:
    run_import(tmp_path, "modern.apkg")
    pack = load_pack(pack_path(tmp_path / "packs", "fixture-lesson-4"))
    assert write_csv([pack], tmp_path / "out.txt") == 4
    again = read_csv(tmp_path / "out.txt")
    assert [card.id for card in again.cards] == list(dict.fromkeys(card.note_id for card in pack.cards))
    assert [card.front for card in again.cards] == list(dict.fromkeys(card.front for card in pack.cards))


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_corrupt_inputs_give_clear_messages(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store.sqlite3")

    def message(path: Path) -> str:
        with pytest.raises(AnkiError) as caught:
            import_anki(path, tmp_path / "packs", store, CONFIG, NOW)
        return str(caught.value)

    text = tmp_path / "deck.apkg"
    text.write_text("not a zip")
    assert "not an Anki package (not a zip archive" in message(text)
    assert "no collection.anki21b, .anki21 or .anki2 inside" in message(
        _zip(tmp_path / "a.apkg", {"x": b"1"})
    )
    with zipfile.ZipFile(FIXTURES / "modern.apkg") as archive:
        compressed = archive.read("collection.anki21b")
    truncated = _zip(tmp_path / "b.apkg", {"collection.anki21b": compressed[: len(compressed) // 2]})
    assert "collection.anki21b" in message(truncated)
    garbage = _zip(tmp_path / "c.apkg", {"collection.anki2": b"SQLite format 3\x00" + b"\x01" * 4000})
    assert "corrupt or not an Anki collection" in message(garbage)
    assert "no such file" in message(tmp_path / "missing.apkg")
    assert store.review_count() == 0 and not (tmp_path / "packs").exists()


def test_media_names_cannot_escape_the_pack_folder(tmp_path: Path) -> None:
    with zipfile.ZipFile(FIXTURES / "legacy.apkg") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["media"] = json.dumps({"0": "../../evil.png"}).encode()
    database = tmp_path / "c.sqlite"
    database.write_bytes(members["collection.anki21"])
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE notes SET flds = replace(flds, 'ulmfit.png', '../../evil.png')")
    members["collection.anki21"] = database.read_bytes()
    summary = import_anki(
        _zip(tmp_path / "evil.apkg", members), tmp_path / "packs", Store.open(tmp_path / "s"), CONFIG, NOW
    )
    assert summary.media == 0
    assert not (tmp_path / "evil.png").exists() and not list(tmp_path.glob("packs/**/evil.png"))


def test_protobuf_reader() -> None:
    # MediaEntries { entries: [{name: "a.png", size: 3}] } written by hand.
    entry = b"\x0a\x05a.png\x10\x03"
    message = fields(b"\x0a" + bytes([len(entry)]) + entry)
    assert fields(message[1][0]) == {1: [b"a.png"], 2: [3]}
    with pytest.raises(AnkiError):
        fields(b"\x0a\x09abc")


def test_revlog_rows_anki_fsrs_skips_are_skipped_with_reasons() -> None:
    from collections import Counter

    from cards.anki.collection import Review
    from cards.anki.history import SKIP_BEFORE_FORGET, SKIP_EASE_0, answers_from_revlog

    rows = [
        Review(1_000, 7, 3, 1, 2500, 4000, 0),  # learn, Good: before the Forget
        Review(2_000, 7, 0, 0, 0, 0, 4),  # Forget: manual, interval 0
        Review(3_000, 7, 2, 1, 2500, 5000, 0),  # kept
        Review(4_000, 7, 0, 1, 2500, 0, 1),  # ease 0
        Review(5_000, 7, 4, 3, 0, 1000, 3),  # cram without rescheduling
        Review(6_000, 7, 3, 3, 2500, -5, 3),  # a filtered deck that reschedules: kept
    ]
    skipped: Counter = Counter()
    answers = answers_from_revlog(rows, {7: "card"}, skipped)
    assert [(answer.at_ms, answer.rating, answer.duration_ms) for answer in answers] == [
        (3_000, 2, 5000),
        (6_000, 3, 0),
    ]
    assert skipped == Counter({SKIP_BEFORE_FORGET: 1, SKIP_MANUAL: 1, SKIP_EASE_0: 1, SKIP_CRAM: 1})


def test_a_collection_past_its_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cards.anki import package

    monkeypatch.setattr(package, "MAX_COLLECTION_BYTES", 50_000)  # the fixture's collection is ~140 kB
    with pytest.raises(AnkiError, match="limit"):
        Package(FIXTURES / "modern.apkg")
