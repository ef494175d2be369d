"""The validated-pack cache (load_pack(..., cache_dir=...)) and the loader's fast paths.

A cache hit must give a Pack equal to a fresh load, never stale data, and must not parse the file; a
corrupt cache file is ignored and rewritten. The fast paths (line index, card construction, content hash)
must agree exactly with the general ones.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest

import cards.pack as pack_module
import cards.pack_cache
import cards.pack_format
import cards.toml_lines as lines_module
from cards.discover import bundled_pack_paths, discover_packs, pack_cache_dir
from cards.pack import Card, content_hash, load_pack, load_packs
from cards.paths import Home
from tests.cards.test_pack import VALID

KNOWN_LABS = frozenset({"maps", "tabular"})
HOUR_NS = 3_600_000_000_000


def age(path: Path, hours: int = 1) -> None:
    """Move the file's mtime into the past, as for a pack not edited just now."""
    mtime = path.stat().st_mtime_ns - hours * HOUR_NS
    os.utime(path, ns=(mtime, mtime))


@pytest.fixture
def pack_file(tmp_path: Path) -> Path:
    path = tmp_path / "capitals.toml"
    path.write_text(VALID, encoding="utf-8")
    age(path)
    return path


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """The files the loader actually parsed (a cache hit parses nothing)."""
    parsed: list[Path] = []
    real_parse = cards.pack_format._parse_toml

    def counting_parse(path: Path, text: str) -> dict[str, object]:
        parsed.append(path)
        return real_parse(path, text)

    monkeypatch.setattr(cards.pack_format, "_parse_toml", counting_parse)
    yield parsed


def cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.marshal"))


def test_a_hit_returns_an_equal_pack_without_parsing(pack_file: Path, tmp_path: Path, parses: list) -> None:
    cache = tmp_path / "cache"
    first = load_pack(pack_file, KNOWN_LABS, cache_dir=cache)
    again = load_pack(pack_file, KNOWN_LABS, cache_dir=cache)

    assert parses == [pack_file]
    assert again == first == load_pack(pack_file, KNOWN_LABS)
    assert [card._asdict() for card in again.cards] == [card._asdict() for card in first.cards]
    assert all(card.file == pack_file for card in again.cards) and again.path == pack_file
    assert len(cache_files(cache)) == 1


def test_cards_are_plain_named_tuples(pack_file: Path, tmp_path: Path) -> None:
    """Both construction fast paths give what Card(...) gives: same fields, equality and hash."""
    cache = tmp_path / "cache"
    for pack in (load_pack(pack_file, cache_dir=cache), load_pack(pack_file, cache_dir=cache)):
        for card in pack.cards:
            rebuilt = Card(**{name: getattr(card, name) for name in Card._fields})
            assert type(card) is Card and card._asdict() == rebuilt._asdict()
            assert card == rebuilt and hash(card) == hash(rebuilt) and repr(card) == repr(rebuilt)
            with pytest.raises(AttributeError):
                card.front = "changed"  # type: ignore[misc]


def test_editing_the_file_invalidates_the_cache(pack_file: Path, tmp_path: Path, parses: list) -> None:
    cache = tmp_path / "cache"
    load_pack(pack_file, cache_dir=cache)
    before = pack_file.stat()
    pack_file.write_text(VALID.replace('"Paris"', '"Lyon!"'), encoding="utf-8")  # same size
    os.utime(pack_file, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime

    edited = load_pack(pack_file, cache_dir=cache)

    assert len(parses) == 2
    assert any(card.back == "Lyon!" for card in edited.cards)
    assert load_pack(pack_file, cache_dir=cache) == edited and len(parses) == 2


def test_a_file_changed_just_after_it_was_read_is_checked_by_content(
    tmp_path: Path, parses: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pack written moments ago could change again within one mtime tick: its entry also holds the
    content digest, so even identical stat data (faked here) cannot make it serve old cards."""
    cache = tmp_path / "cache"
    path = tmp_path / "fresh.toml"
    path.write_text(VALID, encoding="utf-8")
    load_pack(path, cache_dir=cache)
    frozen_stat = os.stat(path)
    path.write_text(VALID.replace('"Paris"', '"Lyon!"'), encoding="utf-8")
    real_stat = os.stat
    monkeypatch.setattr(
        cards.pack_cache.os, "stat", lambda p, *a, **k: frozen_stat if Path(p) == path else real_stat(p)
    )

    assert any(card.back == "Lyon!" for card in load_pack(path, cache_dir=cache).cards)
    assert len(parses) == 2


def test_a_corrupt_cache_file_is_ignored_and_rewritten(pack_file: Path, tmp_path: Path, parses: list) -> None:
    cache = tmp_path / "cache"
    expected = load_pack(pack_file, cache_dir=cache)
    [cached] = cache_files(cache)
    good = cached.read_bytes()
    damaged = [b"", b"not marshal at all", good[: len(good) // 2], good[:-40] + bytes(40)]
    for index, content in enumerate(damaged, start=1):
        cached.write_bytes(content)
        assert load_pack(pack_file, cache_dir=cache) == expected
        assert len(parses) == 1 + index
        assert cached.read_bytes() == good  # rewritten by that load
    assert load_pack(pack_file, cache_dir=cache) == expected and len(parses) == 1 + len(damaged)


def test_a_write_removes_what_older_loaders_cached_and_keeps_the_others(
    pack_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(cards.pack_cache, "_VERSION_PREFIX", "v2-")  # an older cardlab's files
    load_pack(pack_file, cache_dir=cache)
    load_pack(pack_file, KNOWN_LABS, cache_dir=cache)
    monkeypatch.undo()
    sha_named = cache / f"{sha256(b'an older name').hexdigest()[:32]}.marshal"  # before names had a version
    sha_named.write_bytes(b"old")
    unrelated = cache / "notes.txt"
    unrelated.write_text("not a cache file")
    load_pack(pack_file, cache_dir=cache)  # a miss for this loader: it writes, then tidies
    load_pack(pack_file, KNOWN_LABS, cache_dir=cache)
    names = [path.name for path in cache_files(cache)]
    assert len(names) == 2 and all(name.startswith(f"v{cards.pack_cache.LOADER_VERSION}-") for name in names)
    assert unrelated.exists()


def test_other_known_labs_miss(pack_file: Path, tmp_path: Path, parses: list) -> None:
    cache = tmp_path / "cache"
    load_pack(pack_file, KNOWN_LABS, cache_dir=cache)
    load_pack(pack_file, None, cache_dir=cache)
    load_pack(pack_file, {"maps", "tabular", "ulmfit"}, cache_dir=cache)
    assert len(parses) == 3
    load_pack(pack_file, ["tabular", "maps"], cache_dir=cache)  # the same set, in another order
    assert len(parses) == 3


def test_invalid_packs_are_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = tmp_path / "bad.toml"
    path.write_text(VALID.replace('lab = "maps"', 'lab = "nope"'), encoding="utf-8")
    with pytest.raises(pack_module.PackError, match='unknown lab "nope"'):
        load_pack(path, KNOWN_LABS, cache_dir=cache)
    assert cache_files(cache) == []
    with pytest.raises(pack_module.PackError):  # a missing file is still reported, cache or not
        load_pack(tmp_path / "missing.toml", cache_dir=cache)


def test_an_unwritable_cache_folder_only_costs_speed(pack_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert load_pack(pack_file, cache_dir=blocker / "cache") == load_pack(pack_file)


def test_load_packs_and_discover_use_the_cache(pack_file: Path, tmp_path: Path, parses: list) -> None:
    cache = tmp_path / "cache"
    assert load_packs([pack_file], cache_dir=cache) == load_packs([pack_file], cache_dir=cache)
    assert len(parses) == 1

    home = Home.at(tmp_path / "home")
    home.packs_dir.mkdir(parents=True)
    (home.packs_dir / "capitals.toml").write_text(VALID, encoding="utf-8")
    first, _ = discover_packs(home)
    again, _ = discover_packs(home)
    assert again == first and [pack.id for pack in again] == ["fastai-lesson4", "capitals"]
    assert len(parses) == 3  # the bundled pack and the user's, once each
    assert len(cache_files(pack_cache_dir(home))) == 2


def scale_pack_text(n_cards: int) -> str:
    header = (
        '[pack]\nid = "many"\ntitle = "Many"\nversion = "1.0.0"\nauthors = ["t"]\ndescription = "d"\n'
        "format = 1\n"
    )
    body = "".join(
        f'\n[[cards]]\nid = "card-{i}"\nfront = "Question {i}: what is {i} * 7?"\n'
        f'back = "It is **{i * 7}**."\n'
        f'tags = ["scale", "group-{i % 10}"]\n'
        for i in range(n_cards)
    )
    return header + body


def test_a_large_pack_is_read_back_from_the_cache_without_parsing(tmp_path: Path, parses: list) -> None:
    """How much faster the cached load is, is measured by bench/study_scale.py (a wall-clock ratio in a
    test fails on a busy machine); here, that the 5000-card pack comes back whole and unparsed."""
    path = tmp_path / "many.toml"
    path.write_text(scale_pack_text(5000), encoding="utf-8")
    age(path)
    cache = tmp_path / "cache"
    parsed = load_pack(path, cache_dir=cache)
    assert parses == [path] and len(parsed.cards) == 5000
    assert [load_pack(path, cache_dir=cache) for _ in range(2)] == [parsed, parsed]
    assert parses == [path]  # both later loads were cache hits


def test_content_hash_is_sha256_of_the_json_array() -> None:
    """The store keys "edited" on this digest: the fast encoding must match json.dumps exactly."""
    texts = [
        "plain",
        'quote " and \\ backslash',
        "é ünïcödé 漢字 🙂",
        "\x00\x1f\x7f ctrl\n\t\r",
        "\u2028\ud7ff",
    ]
    for text in texts:
        for index in (None, 1, 12):
            payload = json.dumps(["cloze", text, text[::-1], index], ensure_ascii=False)
            assert content_hash("cloze", text, text[::-1], index) == sha256(payload.encode()).hexdigest()


def _mutations(seed: str, count: int, rng: random.Random) -> Iterator[str]:
    significant = "[]{}\"'=#.,:\\\n\r\t c1-_é"
    for _ in range(count):
        chars = list(seed)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars))
            roll = rng.random()
            if roll < 0.4:
                chars.insert(at, rng.choice(significant))
            elif roll < 0.7:
                del chars[at]
            else:
                chars[at] = rng.choice(significant)
        yield "".join(chars)


def test_the_fast_line_index_agrees_with_the_general_scanner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines matched in one step by _SIMPLE_STATEMENT must be recorded exactly as the general,
    character-level path records them, on every text tomllib accepts; and index_tables, where it
    answers, must give the same table header lines."""
    import tomllib

    odd = (
        '[pack]\nid = """\nabc"""\nx = \'\'\'\nq\'\'\'\'\'\n[[cards]]\nfront = """a""""\n'
        'back = "x\\"y" # c\r\ntags = ["a", \'b\',]\n[[ cards ]]\nid="x"\n\n# c\n'
        'q = {a = 1}\n"k" = 1\na.b = 2\n'
    )
    seeds = [VALID, bundled_pack_paths()[0].read_text(encoding="utf-8")[:3000], odd, scale_pack_text(8)]
    rng = random.Random(7)
    checked = quick_checked = 0
    for seed in seeds:
        for text in [seed, *_mutations(seed, 150, rng)]:
            try:
                data = tomllib.loads(text)
            except (tomllib.TOMLDecodeError, ValueError):
                continue  # the index only ever runs on text tomllib accepted
            fast = lines_module.index_lines(text)
            with monkeypatch.context() as patch:
                patch.setattr(lines_module, "_SIMPLE_STATEMENT", re.compile(r"(?!)"))  # general path only
                general = lines_module.index_lines(text)
            assert fast == general, text
            checked += 1
            cards = data.get("cards")
            quick = lines_module.index_tables(text, len(cards)) if isinstance(cards, list) else None
            if quick is not None:  # header lines only, but those exactly
                assert [table.header for table in quick.cards] == [table.header for table in general.cards]
                assert quick.pack == general.pack
                assert quick.root.line_of("cards") == general.root.line_of("cards")
                quick_checked += 1
    assert checked > 100 and quick_checked > 20


def test_a_pack_with_problems_cites_key_lines_even_after_the_quick_index(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(VALID.replace('back = "Paris"', "back = 5"), encoding="utf-8")
    [problem] = pytest.raises(pack_module.PackError, load_pack, path).value.problems
    assert path.read_text().splitlines()[problem.line - 1] == "back = 5"
