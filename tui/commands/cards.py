"""`cardlab cards [QUERY] [--json]` lists the cards a query matches; `cardlab cards ACTION QUERY` acts on them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from tui.commands import home_from_args
from tui.safe_text import printable

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from cards.config import Config
    from cards.pack import Pack, Problem
    from cards.query import CardMatch, Query
    from cards.store import Store

ACTIONS = ("suspend", "unsuspend", "bury", "unbury", "reset", "due-today")  # cards.card_actions.ACTIONS
DELETE_ORPHANS = "delete-orphans"


class _QueryParser(argparse.ArgumentParser):
    """The `cards` parser: a word that starts with one `-` is a negated query term (`-is:new`, `-tag:x`),
    never an option, so a query may start with one; `-h` still asks for help, `--json` is still an option."""

    def _parse_optional(self, arg_string: str):  # noqa: ANN202
        if arg_string.startswith("-") and arg_string[1:2] not in ("", "-") and arg_string != "-h":
            return None  # argparse: a positional argument
        return super()._parse_optional(arg_string)


def register(subparsers: argparse._SubParsersAction) -> None:
    cards = subparsers.add_parser(
        "cards",
        help="list the cards a query matches, or suspend/unsuspend/bury/unbury/reset them",
        description="List the cards that QUERY matches (every card without one), or act on them: "
        f"`cardlab cards ACTION QUERY` with ACTION one of {', '.join(ACTIONS)}, or {DELETE_ORPHANS} "
        "(delete the history of matching cards that are in no pack). QUERY is the browser's search "
        '(docs/study.md): words, "a phrase", pack:ID, tag:NAME, card:ID, is:due, prop:r<0.8, -term, or. '
        "One shell word or several, the same query: `cardlab cards 'tag:x is:new'` is `cardlab cards tag:x "
        "is:new`; a phrase is written in double quotes inside it: `cardlab cards '\"a phrase\" tag:x'`.",
    )
    cards.__class__ = _QueryParser  # a leading `-is:new` is the query's first term, not an unknown option
    cards.add_argument("--json", action="store_true", help="print a JSON array of the matching cards")
    cards.add_argument("--limit", type=int, metavar="N", help="list at most N cards")
    # REMAINDER: every word from the first query term on, `-is:new` included (_QueryParser), is the query.
    cards.add_argument(
        "words", nargs=argparse.REMAINDER, metavar="[ACTION] QUERY", help="an optional action, then the query"
    )
    cards.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    cards.set_defaults(handler=run_cards)


def _take_options(words: list[str], args: argparse.Namespace) -> list[str]:
    """`--json` and `--home DIR` also after the query (argparse's REMAINDER keeps them as words)."""
    if words[:1] == ["--"]:
        words = words[1:]
    kept = []
    while words:
        word = words.pop(0)
        if word == "--json":
            args.json = True
        elif word == "--home" and words:
            args.home = words.pop(0)
        else:
            kept.append(word)
    return kept


def query_text(words: list[str]) -> str:
    """The shell words as one query, as if typed into the browser's search box: `'tag:x is:new'` (one
    word) and `tag:x is:new` (two) are the same query; a phrase is written `"a phrase"` inside the query."""
    return " ".join(words)


def run_cards(args: argparse.Namespace) -> int:
    from cards.config import ConfigError, load_config
    from cards.discover import discover_packs
    from cards.query import QueryError, parse_query
    from cards.store import Store, StoreError
    from cards.study_day import utc_now

    words = _take_options(list(args.words), args)
    action = words.pop(0) if words and words[0] in (*ACTIONS, DELETE_ORPHANS) else None
    if args.limit is not None and args.limit < 1:
        return _fail(f"--limit must be at least 1, not {args.limit}")
    home = home_from_args(args)
    try:
        query = parse_query(query_text(words))
        config = load_config(home)
        packs, errors = discover_packs(home)
        for error in errors:  # the others are still listed
            _warn_skipped(error.problems)
        opened = Store.open_read_only if action is None else Store.open  # a list only reads
        with opened(home.store_path) as store:
            now = utc_now()
            if action is None:
                return _list(store, packs, query, now, config, args)
            return _act(store, packs, query, now, config, action)
    except (QueryError, ConfigError, StoreError) as err:
        return _fail(str(err))


def _list(
    store: Store, packs: Sequence[Pack], query: Query, now: datetime, config: Config, args: argparse.Namespace
) -> int:
    from cards.query import search
    from tui.card_rows import as_json

    result = search(store, packs, query, now, config, limit=args.limit)
    if args.json:
        print(json.dumps([as_json(row) for row in result.rows], indent=1))
        return 0
    if result.rows:
        _print_table(result.rows, now)
    shown = len(result.rows)
    print(_cards(result.total) + (f" (the first {shown} shown: --limit)" if shown < result.total else ""))
    return 0


def _print_table(rows: list[CardMatch], now: datetime) -> None:
    from tui.card_rows import COLUMNS, cells

    table = [[heading for _, heading in COLUMNS]]
    table += [[printable(text, one_line=True) for text in cells(row, now).values()] for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(COLUMNS))]
    for line in table:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())


def _act(
    store: Store, packs: Sequence[Pack], query: Query, now: datetime, config: Config, action: str
) -> int:
    from cards.card_actions import apply_action, delete_orphans
    from cards.query import matching_keys, search
    from tui.card_rows import DONE

    if action == DELETE_ORPHANS:
        orphans = [row.key for row in search(store, packs, query, now, config).rows if row.orphaned]
        states, reviews = delete_orphans(store, packs, orphans)
        print(
            f"deleted the history of {_cards(states)} in no pack ({reviews} review{'' if reviews == 1 else 's'})"
        )
        return 0
    keys = matching_keys(store, packs, query, now, config)
    changed = apply_action(store, packs, keys, action, now, config)
    print(f"{DONE[action]}: {changed} of {_cards(len(keys))} matching changed")
    return 0


def _warn_skipped(problems: list[Problem]) -> None:
    """One line on stderr for a pack that did not load: its first problem and how many more."""
    if not problems:
        return
    more = len(problems) - 1
    tail = f" (and {more} more problem{'' if more == 1 else 's'}: cardlab pack check)" if more else ""
    text = f"cardlab: skipped a pack that does not load: {problems[0]}{tail}"
    print(printable(text, one_line=True), file=sys.stderr)


def _cards(count: int) -> str:
    return f"{count} card" if count == 1 else f"{count} cards"


def _fail(message: str) -> int:
    print(f"cardlab: {printable(message)}", file=sys.stderr)
    return 1
