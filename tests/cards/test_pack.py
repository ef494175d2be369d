"""The pack loader: a valid pack's fields, and every kind of problem with its line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from cards import cloze
from cards.discover import bundled_pack_paths
from cards.pack import Card, Pack, PackError, Problem, content_hash, load_pack, load_packs

VALID = textwrap.dedent(
    '''\
    [pack]
    id = "capitals"
    title = "Capitals"
    version = "1.2.0"
    authors = ["Ada"]
    description = "Capital cities."
    format = 1

    [[cards]]
    id = "france"
    front = "Capital of **France**?"
    back = "Paris"
    tags = ["europe", "geo"]
    source = "atlas, p. 3"

    [[cards]]
    id = "spain-italy"
    type = "cloze"
    front = """
    Madrid is the capital of {{c1::Spain}}.
    Rome is the capital of {{c2::Italy::a boot}}."""
    tags = ["europe"]
    lab = "maps"
    notes = "for instructors"
    '''
)


def write(tmp_path: Path, text: str, name: str = "pack.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str, known_labs: set[str] | None = None) -> list[Problem]:
    path = write(tmp_path, text)
    with pytest.raises(PackError) as caught:
        load_pack(path, known_labs)
    assert all(problem.file == path and problem.line >= 1 for problem in caught.value.problems)
    return caught.value.problems


def only_problem(tmp_path: Path, text: str, known_labs: set[str] | None = None) -> Problem:
    problems = problems_of(tmp_path, text, known_labs)
    assert len(problems) == 1, problems
    return problems[0]


# --- success ------------------------------------------------------------------------------------------


def test_valid_pack_loads_every_field(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    pack = load_pack(path, known_labs={"maps"})

    assert (pack.id, pack.title, pack.version, pack.authors) == ("capitals", "Capitals", "1.2.0", ("Ada",))
    assert pack.description == "Capital cities." and pack.license is None and pack.path == path
    assert [card.id for card in pack.cards] == ["france", "spain-italy#c1", "spain-italy#c2"]
    basic, first, second = pack.cards
    assert basic == Card(
        pack_id="capitals",
        id="france",
        note_id="france",
        type="basic",
        front="Capital of **France**?",
        back="Paris",
        tags=("europe", "geo"),
        lab=None,
        source="atlas, p. 3",
        notes=None,
        file=path,
        line=9,
        cloze_index=None,
        content_hash=content_hash("basic", "Capital of **France**?", "Paris", None),
    )
    assert (first.note_id, first.type, first.cloze_index, first.line, first.lab) == (
        "spain-italy",
        "cloze",
        1,
        16,
        "maps",
    )
    assert second.cloze_index == 2 and second.notes == "for instructors" and second.back == ""
    assert pack.tags == ("europe", "geo")


def test_content_hash_follows_the_text_not_the_tags(tmp_path: Path) -> None:
    original = {card.id: card.content_hash for card in load_pack(write(tmp_path, VALID)).cards}
    retagged = VALID.replace('tags = ["europe", "geo"]', 'tags = ["world"]')
    edited = VALID.replace('back = "Paris"', 'back = "Paris (since 508)"')

    assert {c.id: c.content_hash for c in load_pack(write(tmp_path, retagged, "a.toml")).cards} == original
    changed = {c.id: c.content_hash for c in load_pack(write(tmp_path, edited, "b.toml")).cards}
    assert changed["france"] != original["france"]
    assert changed["spain-italy#c1"] == original["spain-italy#c1"] != original["spain-italy#c2"]


def test_lab_ids_are_only_checked_when_known_labs_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    assert load_pack(path).cards[1].lab == "maps"
    problem = only_problem(tmp_path, VALID, known_labs={"map", "tabular"})
    assert (problem.line, problem.message) == (23, 'unknown lab "maps": did you mean "map"?')


def test_load_packs_reads_every_toml_in_a_folder(tmp_path: Path) -> None:
    write(tmp_path, VALID, "b.toml")
    write(tmp_path, VALID.replace('id = "capitals"', 'id = "capitals-2"'), "a.toml")
    (tmp_path / "notes.txt").write_text("not a pack")
    assert [pack.id for pack in load_packs([tmp_path])] == ["capitals-2", "capitals"]


def test_load_packs_reports_a_pack_id_used_twice(tmp_path: Path) -> None:
    first, second = write(tmp_path, VALID, "a.toml"), write(tmp_path, VALID, "b.toml")
    with pytest.raises(PackError) as caught:
        load_packs([first, second])
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (second, 2)
    assert f"already used by {first}:2" in problem.message


def test_bundled_lesson_pack_has_fifteen_cards_each_linked_to_a_known_lab() -> None:
    from labs.registry import known_lab_ids

    [path] = [path for path in bundled_pack_paths() if path.name == "lesson4.toml"]
    pack = load_pack(path, known_labs=known_lab_ids())
    assert pack.id == "fastai-lesson4" and len(pack.cards) == 15
    assert all(card.lab and card.source and card.tags for card in pack.cards)
    assert {"nlp", "tabular", "collab"} <= set(pack.tags)
    backs = "\n".join(card.back for card in pack.cards)
    for fact in (
        "drop_mult=0.3",
        "drop_mult=0.5",
        "freeze_to(-2)",
        "load_encoder('fine_tuned_enc')",
        "median",
    ):
        assert fact in backs
    for fact in ("is_missing", "split_by_idx", "layers=[200, 100]", "Netflix", "Frank Hutter", "2.6**4"):
        assert fact in backs
    assert not re.search(r"domainm|Discrimiigtive|Forrest|Hudder", backs)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(lines[card.line - 1] == "[[cards]]" for card in pack.cards)


def test_the_example_in_the_docs_is_a_valid_pack(tmp_path: Path) -> None:
    from labs.registry import known_lab_ids

    docs = (Path(__file__).resolve().parents[2] / "docs" / "packs.md").read_text(encoding="utf-8")
    example = docs.split("````toml\n", 1)[1].split("````", 1)[0]
    pack = load_pack(write(tmp_path, example), known_labs=known_lab_ids())
    assert [card.id for card in pack.cards] == ["france", "iberia-italy#c1", "iberia-italy#c2"]
    assert cloze.render_front(pack.cards[2]).endswith("Rome is the capital of \\[a boot-shaped country\\].")


# --- problems -----------------------------------------------------------------------------------------


def test_toml_syntax_error_gives_line_column_and_hint(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, VALID.replace('back = "Paris"', "back = Paris"))
    assert (problem.line, problem.column) == (12, 8)
    assert problem.message.startswith("TOML syntax error: Invalid value; text must be quoted")
    assert str(problem) == f"{problem.file}:12:8: {problem.message}"


def test_unterminated_strings_point_at_their_line(tmp_path: Path) -> None:
    one_line = only_problem(tmp_path, VALID + 'source = "oops\n')
    assert one_line.line == 25 and "string ends on its line" in one_line.message
    multi_line = only_problem(tmp_path, VALID + 'source = """oops\n\n')
    assert multi_line.line == 26 and "Unterminated string; close the string" in multi_line.message


def test_missing_required_fields_point_at_the_table(tmp_path: Path) -> None:
    text = VALID.replace('front = "Capital of **France**?"\n', "").replace('title = "Capitals"\n', "")
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.message) for p in problems] == [
        (1, '[pack] is missing required key "title": add title = ...'),
        (8, 'card "france" is missing required key "front": add front = ...'),
    ]


def test_missing_pack_table_and_cards(tmp_path: Path) -> None:
    assert only_problem(tmp_path, VALID.split("[[cards]]")[0]).message.startswith("the pack has no cards")
    problems = problems_of(tmp_path, VALID.replace("[pack]", "[pac]"))
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (1, 'unknown key "pac" at the top level'),
        (1, "missing [pack] table"),
    ]
    assert problems[0].message.endswith('did you mean "pack"?')


def test_empty_required_field(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, VALID.replace('back = "Paris"', 'back = "  "'))
    assert (problem.line, problem.message) == (12, "back is empty: write the back")


def test_wrong_types_say_what_was_found(tmp_path: Path) -> None:
    text = (
        VALID.replace('back = "Paris"', "back = 3")
        .replace('tags = ["europe", "geo"]', 'tags = "europe"')
        .replace("format = 1", 'format = "1"')
        .replace('authors = ["Ada"]', 'authors = ["Ada", 2]')
    )
    messages = {p.line: p.message for p in problems_of(tmp_path, text)}
    assert messages == {
        5: 'authors must contain only non-empty strings: write authors = ["first", "second"]',
        7: "format must be an integer, not a string: write format = 1",
        12: 'back must be a string, not an integer: put it in quotes: back = "3"',
        13: 'tags must be an array of strings, not a string: write tags = ["first", "second"]',
    }


def test_cards_written_as_a_table_is_a_type_error(tmp_path: Path) -> None:
    text = VALID.split("[[cards]]")[0] + '[cards]\nid = "x"\n'
    problem = only_problem(tmp_path, text)
    assert problem.line == 9 and "start each card with a [[cards]] header" in problem.message


def test_duplicate_card_ids_name_both_lines(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, VALID.replace('id = "spain-italy"', 'id = "france"'))
    assert problem.line == 17
    assert problem.message.startswith('duplicate card id "france": the same id is first used at line 10')


def test_bad_slugs_suggest_a_fix(tmp_path: Path) -> None:
    text = VALID.replace('id = "france"', 'id = "France Q1"').replace('id = "capitals"', 'id = "my_pack"')
    assert [(p.line, p.message) for p in problems_of(tmp_path, text)] == [
        (
            2,
            'id "my_pack" is not a valid id: use lowercase letters, digits and single hyphens (e.g. "my-pack")',
        ),
        (
            10,
            'id "France Q1" is not a valid id: use lowercase letters, digits and single hyphens (e.g. "france-q1")',
        ),
    ]


def test_bad_version_and_unsupported_format(tmp_path: Path) -> None:
    text = VALID.replace('version = "1.2.0"', 'version = "v1"').replace("format = 1", "format = 2")
    problems = problems_of(tmp_path, text)
    assert [p.line for p in problems] == [4, 7]
    assert "not a semantic version" in problems[0].message
    assert (
        problems[1].message
        == "unsupported format 2: this cardlab reads format = 1 (a newer cardlab may read it)"
    )


def test_unknown_keys_suggest_the_closest(tmp_path: Path) -> None:
    text = VALID.replace('source = "atlas, p. 3"', 'sourse = "atlas"').replace(
        "format = 1", "format = 1\nzzz = 1"
    )
    assert [(p.line, p.message) for p in problems_of(tmp_path, text)] == [
        (
            8,
            'unknown key "zzz" in [pack]: allowed keys: authors, description, format, id, labs, license, title, version',
        ),
        (15, 'unknown key "sourse" in [[cards]]: did you mean "source"?'),
    ]


def test_unknown_type(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, VALID.replace('type = "cloze"', 'type = "qa"'))
    assert (problem.line, problem.message) == (
        18,
        'type "qa" is not a card type: use type = "basic" or type = "cloze"',
    )


@pytest.mark.parametrize(
    ("deletion", "expected"),
    [
        ("{{c1:Spain}}", "malformed cloze deletion '{{c1:Spain}}'"),
        ("{{c0::Spain}}", "malformed cloze deletion '{{c0::Spain}}'"),
        ("{{c1::}}", "cloze deletion '{{c1::}}' has an empty answer"),
        ("{{c1::Spain::}}", "cloze deletion '{{c1::Spain::}}' has an empty hint"),
        ("{{c1::Spain", "cloze deletion '{{c1::Spain.…' is not closed: end it with }}"),
        ("{{c1::{{c2::x}}}}", "cloze deletion '{{c1::{{c2::x}}' is not closed"),
    ],
)
def test_malformed_cloze_points_at_its_line_in_a_multiline_front(
    tmp_path: Path, deletion: str, expected: str
) -> None:
    text = VALID.replace("{{c1::Spain}}", deletion)
    problems = problems_of(tmp_path, text)
    assert problems[0].line == 20  # the "Madrid ..." line, inside the triple-quoted front
    assert expected in problems[0].message


_HEADER = (
    '[pack]\nid = "p"\ntitle = "P"\nversion = "1.0.0"\nauthors = ["a"]\ndescription = "d"\nformat = 1\n\n'
)
_CARD = '[[cards]]\nid = "c"\ntype = "cloze"\n'


@pytest.mark.parametrize(
    ("cards", "line"),
    [
        # `\n` escapes are newlines of the value, not of the file: the deletion is on line 12
        (_CARD + 'front = "a\\nb\\nc\\n{{c1::x"\n', 12),
        # a `\` at the end of a line joins lines: the deletion is on line 15, after three of them
        (_CARD + 'front = """a \\\n  b \\\n  c \\\n  {{c1::x"""\n', 15),
        # a card in an inline array (before [pack]) has no [[cards]] table: the deletion is on line 4
        (
            'cards = [\n  { id = "a", type = "cloze", front = "{{c1::a}}" },\n\n'
            '  { id = "c", type = "cloze", front = "ok {{c1::x" },\n]\n' + _HEADER,
            4,
        ),
        # literal strings have no escapes; \t and \u escapes before the deletion are one character each
        (_CARD + "front = '''\na\\n\nb\\\n{{c1::x'''\n", 15),
        (_CARD + 'front = """\\t\\u00e9\n\\U0001F600 {{c1::x"""\n', 13),
    ],
)
def test_cloze_problems_name_the_line_of_the_deletion_itself(tmp_path: Path, cards: str, line: int) -> None:
    text = cards if cards.endswith(_HEADER) else _HEADER + cards
    problem = only_problem(tmp_path, text)
    assert "is not closed" in problem.message
    assert problem.line == line, text.splitlines()[line - 1]


def test_cloze_without_deletions_and_basic_with_deletions(tmp_path: Path) -> None:
    no_deletions = VALID.replace("{{c1::Spain}}", "Spain").replace("{{c2::Italy::a boot}}", "Italy")
    assert "cloze card has no deletions" in only_problem(tmp_path, no_deletions).message
    marked_basic = VALID.replace('back = "Paris"', 'back = "Paris"\n').replace("**France**", "{{c1::France}}")
    problem = only_problem(tmp_path, marked_basic)
    assert problem.line == 11 and 'add type = "cloze"' in problem.message


def test_every_problem_is_collected_and_sorted(tmp_path: Path) -> None:
    text = (
        VALID.replace('title = "Capitals"', "title = 1")
        .replace('back = "Paris"', 'bak = "Paris"')
        .replace('lab = "maps"', 'lab = "Maps!"')
    )
    with pytest.raises(PackError) as caught:
        load_pack(write(tmp_path, text))
    lines = str(caught.value).splitlines()
    assert [int(line.split(":")[1]) for line in lines] == [3, 9, 12, 23]
    assert all(re.match(rf"{re.escape(str(tmp_path))}/pack.toml:\d+: \S", line) for line in lines)


def test_not_utf8_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(VALID.replace("Paris", "Par\xeds").encode("latin-1"))
    with pytest.raises(PackError) as caught:
        load_pack(path)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (12, 12) and "not UTF-8" in problem.message


def test_missing_file_is_a_pack_error(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="no such file"):
        load_pack(tmp_path / "absent.toml")


def test_brackets_inside_multiline_strings_do_not_confuse_line_numbers(tmp_path: Path) -> None:
    tricky = VALID.replace(
        'back = "Paris"',
        'back = """\n[[cards]]\nid = "fake"\nfront = \'\'\'"""\ntags = [\n  "europe",\n]\nbogus = 1',
    )
    tricky = tricky.replace('tags = ["europe", "geo"]\n', "")
    problem = only_problem(tmp_path, tricky)
    assert (problem.line, problem.message) == (
        19,
        'unknown key "bogus" in [[cards]]: allowed keys: '
        + ", ".join(sorted(("id", "type", "front", "back", "tags", "lab", "source", "notes", "was"))),
    )


# --- cloze rendering ----------------------------------------------------------------------------------


def cloze_cards(tmp_path: Path) -> tuple[Card, Card]:
    pack: Pack = load_pack(write(tmp_path, VALID))
    return pack.cards[1], pack.cards[2]


def test_cloze_front_hides_only_the_active_deletion(tmp_path: Path) -> None:
    first, second = cloze_cards(tmp_path)
    assert cloze.render_front(first) == "Madrid is the capital of \\[...\\].\nRome is the capital of Italy."
    assert (
        cloze.render_front(second) == "Madrid is the capital of Spain.\nRome is the capital of \\[a boot\\]."
    )


def test_cloze_back_fills_the_active_deletion_and_adds_the_extra(tmp_path: Path) -> None:
    first, _ = cloze_cards(tmp_path)
    assert cloze.render_back(first) == "Madrid is the capital of **Spain**.\nRome is the capital of Italy."
    with_extra = load_pack(write(tmp_path, VALID.replace('lab = "maps"', 'back = "Europe."'), "x.toml"))
    assert cloze.render_back(with_extra.cards[1]).endswith("Italy.\n\nEurope.")


def test_basic_cards_render_unchanged(tmp_path: Path) -> None:
    basic = load_pack(write(tmp_path, VALID)).cards[0]
    assert (cloze.render_front(basic), cloze.render_back(basic)) == (basic.front, basic.back)


def test_same_number_twice_makes_one_card_hiding_both() -> None:
    text = "{{c1::a}} and {{c1::b}} then {{c2::c}}"
    assert cloze.numbers(text) == [1, 2]
    assert cloze.render(text, active=1, reveal=False) == r"\[...\] and \[...\] then c"
    assert cloze.render(text, active=1, reveal=True) == "**a** and **b** then c"


def test_plain_double_braces_are_not_deletions() -> None:
    assert cloze.parse("use {{name}} and {{ config }}") == ([], [])
    assert not cloze.has_deletion_markers("f'{{x}}'")


def test_windows_line_endings_and_byte_order_mark_keep_line_numbers(tmp_path: Path) -> None:
    text = VALID.replace("{{c1::Spain}}", "{{c1:Spain}}").replace(
        'type = "cloze"', 'type = "cloze"\nextra = 1'
    )
    path = tmp_path / "windows.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert [problem.line for problem in caught.value.problems] == [19, 21]


@pytest.mark.parametrize(("extra", "said"), [(1, "1 more problem"), (2, "2 more problems")])
def test_problems_past_the_limit_are_counted_in_words(tmp_path: Path, extra: int, said: str) -> None:
    from cards.pack_model import MAX_PROBLEMS_PER_FILE

    header = VALID.split("[[cards]]")[0]
    cards = "".join(f'\n[[cards]]\nid = "c{i}"\nfront = "q"\n' for i in range(MAX_PROBLEMS_PER_FILE + extra))
    problems = problems_of(tmp_path, header + cards)
    assert len(problems) == MAX_PROBLEMS_PER_FILE + 1
    assert (
        problems[-1].message == f"and {said} in this file (only the first {MAX_PROBLEMS_PER_FILE} are listed)"
    )
