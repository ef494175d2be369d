"""The card browser's search: a subset of Anki's query language, answered in SQL over the review store.

    words "a phrase"      front/back text (case-insensitive; `*` is a wildcard)
    pack:ID  tag:NAME  card:ID
    is:new|learn|review|due|suspended|buried|leech|edited|orphaned
    prop:ivl>10  prop:due<2  prop:lapses>=3  prop:reps=0  prop:r<0.8  prop:s>30  prop:d<5
    -term (not)   a or b   (grouping)   terms side by side must all match

`parse_query(text)` checks a query once (a `QueryError` points at the bad term); `search(...)` answers it
at a given time against the loaded packs and the store, and `matching_keys(...)` gives just the
(pack id, card id) pairs. The loaded cards are copied once into a TEMP table of the store's connection, so a
query is one SQL statement joining them with `card_state`: no review row becomes a Python object.

Definitions (docs/study.md): `is:edited` is a card answered before whose text changed since its last
answer (card_state keeps the content hash of that answer); `is:orphaned` is a stored state whose card is in
no loaded pack (its history stays in the store); `is:due` is a seen card due before the study day ends.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fsrs.scheduler import DEFAULT_PARAMETERS

from cards.config import Config
from cards.fsrs_step import LEECH_TAG
from cards.pack import Card, Pack
from cards.pack_cache import collector_paused
from cards.store import LEARNING, NEW, RELEARNING, REVIEW, Store
from cards.study_day import day_start, study_day, to_ms

DAY_MS = 86_400_000
STATE_NAMES = {NEW: "new", LEARNING: "learning", REVIEW: "review", RELEARNING: "relearning"}
ORPHAN_ORDER = 1 << 30  # orphaned rows sort after every loaded pack


class QueryError(ValueError):
    """A query that cannot be read; `position` is the 0-based offset of the bad term in `text`."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text, self.position, self.problem = text, position, problem
        term = text[position:].split(maxsplit=1)
        where = f"column {position + 1} ({term[0]!r})" if term else "its end"
        super().__init__(f"bad query at {where}: {problem}")

    def pointer(self) -> str:
        """The query and a caret under the bad term, for a two-line display."""
        return f"{self.text}\n{' ' * self.position}^"


@dataclass(frozen=True)
class Query:
    """A parsed query: `sql` is a condition over the browser's card view, with named parameters."""

    text: str
    sql: str
    params: dict[str, object]


@dataclass(frozen=True, slots=True)
class CardMatch:
    """One card (or orphaned state) that a query matched, with its scheduling state now."""

    pack_id: str
    card_id: str
    card: Card | None  # None: orphaned (its id is in no loaded pack)
    state: int
    due_ms: int | None
    last_review_ms: int | None
    stability: float | None
    difficulty: float | None
    retrievability: float | None  # None for a card never answered
    reviews: int
    lapses: int
    suspended: bool
    buried: bool
    leech: bool
    edited: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.pack_id, self.card_id)

    @property
    def orphaned(self) -> bool:
        return self.card is None

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, str(self.state))

    @property
    def interval_ms(self) -> int | None:
        """The interval the last answer gave (from it to the due time); None before any answer."""
        if self.due_ms is None or self.last_review_ms is None:
            return None
        return self.due_ms - self.last_review_ms

    @property
    def flags(self) -> tuple[str, ...]:
        names = ("suspended", "buried", "leech", "edited", "orphaned")
        values = (self.suspended, self.buried, self.leech, self.edited, self.orphaned)
        return tuple(name for name, value in zip(names, values) if value)


@dataclass(frozen=True)
class SearchResult:
    rows: list[CardMatch]
    total: int  # every match, also those past the limit


# -- parsing ---------------------------------------------------------------------------------------

_IS = {
    "new": f"c.state = {NEW}",
    "learn": f"c.state IN ({LEARNING}, {RELEARNING})",
    "review": f"c.state IN ({REVIEW}, {RELEARNING})",
    "due": f"c.state != {NEW} AND c.due_ms < :day_end",
    "suspended": "c.suspended = 1",
    "buried": "c.buried = 1",
    "leech": "c.leech = 1",
    "edited": "c.edited = 1",
    "orphaned": "c.orphaned = 1",
}
_PROPS = {
    "ivl": "c.ivl",
    "due": "c.due_ms",  # compared in days from the start of today: see _due_condition
    "lapses": "c.lapses",
    "reps": "c.reps",
    "reviews": "c.reps",
    "r": "c.r",
    "s": "c.stability",
    "stability": "c.stability",
    "d": "c.difficulty",
    "difficulty": "c.difficulty",
}
_PROP = re.compile(r"([a-z]+)(<=|>=|!=|<|>|=)(.*)", re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PREFIXES = ("pack", "tag", "card", "is", "prop")


@dataclass
class _Token:
    kind: str  # "(", ")", "-", "or", "and", "term"
    start: int
    prefix: str | None = None  # "tag" in tag:NAME
    value: str = ""
    quoted: bool = False


def parse_query(text: str) -> Query:
    """Read `text`; raises QueryError naming the column of the first bad term. An empty query matches all."""
    tokens = _tokenize(text)
    parser = _Parser(text, tokens)
    sql = parser.expression() if tokens else "1"
    if parser.index < len(tokens):
        token = tokens[parser.index]
        raise QueryError(text, token.start, "unmatched `)`")
    return Query(text, sql, parser.params)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(_Token(char, index))
            index += 1
        elif char == "-" and _starts_term(text, index + 1):
            tokens.append(_Token("-", index))
            index += 1
        else:
            token, index = _read_term(text, index)
            tokens.append(token)
    return tokens


def _starts_term(text: str, index: int) -> bool:
    return index < len(text) and not text[index].isspace() and text[index] != ")"


def _read_term(text: str, start: int) -> tuple[_Token, int]:
    """One term: `"phrase"`, `prefix:value`, `prefix:"value"` or a word; ends at a space or `)`."""
    match = re.match(r"([A-Za-z]+):", text[start:])
    prefix = match.group(1).lower() if match else None
    index = start + (match.end() if match else 0)
    if index < len(text) and text[index] == '"':
        close = text.find('"', index + 1)
        if close < 0:
            raise QueryError(text, index, 'a `"` without its closing `"`')
        value, end = text[index + 1 : close], close + 1
        return _Token("term", start, prefix, value, quoted=True), end
    end = index
    while end < len(text) and not text[end].isspace() and text[end] not in '()"':
        end += 1
    value = text[index:end]
    if prefix is None and value.lower() in ("or", "and"):
        return _Token(value.lower(), start), end
    return _Token("term", start, prefix, value), end


class _Parser:
    """expression := conjunction (or conjunction)*;  conjunction := unary ([and] unary)*;
    unary := - unary | ( expression ) | term."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text, self.tokens, self.index = text, tokens, 0
        self.params: dict[str, object] = {}

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def fail(self, token: _Token | None, problem: str) -> QueryError:
        return QueryError(self.text, token.start if token else len(self.text), problem)

    def expression(self) -> str:
        parts = [self.conjunction()]
        while (token := self.peek()) is not None and token.kind == "or":
            self.index += 1
            parts.append(self.conjunction(after=token))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self, after: _Token | None = None) -> str:
        parts = [self.unary(after)]
        while (token := self.peek()) is not None and token.kind not in ("or", ")"):
            if token.kind == "and":
                self.index += 1
            parts.append(self.unary(token if token.kind == "and" else None))
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def unary(self, after: _Token | None = None) -> str:
        token = self.peek()
        if token is None:
            raise self.fail(after, f"`{after.kind if after else ''}` needs a term after it")
        if token.kind in ("or", "and"):
            raise self.fail(token, f"`{token.kind}` needs a term on each side")
        if token.kind == ")":
            raise self.fail(token, "a term is missing before `)`")
        self.index += 1
        if token.kind == "-":
            # NULL (a new card has no interval) means "no match" in WHERE; under NOT it must become false
            # first, so -prop:ivl>10 includes new cards. Elsewhere terms stay bare, which lets SQLite skip
            # the card_state lookup for rows a card-text term already rejected.
            return f"NOT coalesce({self.unary(token)}, 0)"
        if token.kind == "(":
            inner = self.expression()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise self.fail(token, "a `(` without its closing `)`")
            self.index += 1
            return f"({inner})"
        return f"({self.term(token)})"

    def param(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def term(self, token: _Token) -> str:
        if token.prefix is None:
            return self.text_term(token.value)
        if token.prefix not in _PREFIXES:
            raise self.fail(
                token,
                f"unknown search `{token.prefix}:`; use pack:, tag:, card:, is: or prop:, "
                f'or quote it ("{token.prefix}:{token.value}") to search the text',
            )
        if not token.value:
            raise self.fail(token, f"`{token.prefix}:` needs a value after the colon")
        return getattr(self, f"{token.prefix}_term")(token)

    def text_term(self, value: str) -> str:
        folded = value.casefold()
        if "*" in folded:
            return f"c.text GLOB {self.param('*' + _glob(folded) + '*')}"
        return f"instr(c.text, {self.param(folded)}) > 0"

    def pack_term(self, token: _Token) -> str:
        return self.id_match("c.pack_id", token.value)

    def card_term(self, token: _Token) -> str:
        return f"({self.id_match('c.card_id', token.value)} OR {self.id_match('c.note_id', token.value)})"

    def id_match(self, column: str, value: str) -> str:
        if "*" in value:
            return f"{column} GLOB {self.param(_glob(value.lower()))}"
        return f"{column} = {self.param(value.lower())}"

    def tag_term(self, token: _Token) -> str:
        folded = token.value.casefold()
        if "*" not in folded:  # the common case: a plain instr, no Python call per row
            exact, parent = self.param(f" {folded} "), self.param(f" {folded}::")
            return f"(instr(c.tags, {exact}) > 0 OR instr(c.tags, {parent}) > 0)"
        pattern = r"(?:^| )" + "[^ ]*".join(map(re.escape, folded.split("*"))) + r"(?:::| |$)"
        return f"c.tags REGEXP {self.param(pattern)}"

    def is_term(self, token: _Token) -> str:
        condition = _IS.get(token.value.lower())
        if condition is None:
            raise self.fail(token, f"unknown is:{token.value}; use is:{', is:'.join(_IS)}")
        return condition

    def prop_term(self, token: _Token) -> str:
        match = _PROP.fullmatch(token.value.lower())
        if match is None:
            raise self.fail(token, f"prop:{token.value} needs a comparison such as prop:ivl>10")
        name, operator, number = match.groups()
        if name not in _PROPS:
            raise self.fail(token, f"unknown prop:{name}; use prop:{', prop:'.join(_PROPS)}")
        if not _NUMBER.fullmatch(number):
            raise self.fail(token, f"prop:{name}{operator} needs a number, not {number!r}")
        if name == "due":
            if "." in number:
                raise self.fail(token, f"prop:due counts whole days from today, not {number}")
            return _due_condition(operator, int(number), self.param)
        return f"{_PROPS[name]} {operator} {self.param(float(number))}"


def _due_condition(operator: str, days: int, param) -> str:  # noqa: ANN001
    """prop:due compares whole study days from today (0 today, 1 tomorrow, -1 overdue by a day), as a range
    of due times, so no day arithmetic runs per row."""
    low, high = f":day_start + {param(days * DAY_MS)}", f":day_start + {param((days + 1) * DAY_MS)}"
    seen = f"c.state != {NEW} AND c.due_ms IS NOT NULL AND "
    ranges = {
        "<": f"c.due_ms < {low}",
        "<=": f"c.due_ms < {high}",
        ">": f"c.due_ms >= {high}",
        ">=": f"c.due_ms >= {low}",
        "=": f"c.due_ms >= {low} AND c.due_ms < {high}",
        "!=": f"NOT (c.due_ms >= {low} AND c.due_ms < {high})",
    }
    return seen + ranges[operator]


def _glob(text: str) -> str:
    """`text` as a GLOB pattern in which only `*` is special."""
    return re.sub(r"[\[\]?]", lambda m: f"[{m.group(0)}]", text)


# -- answering -------------------------------------------------------------------------------------

_INDEX_TABLE = "browser_cards"
# Rows in display order (loaded packs in file order, then orphaned states), so the default sort is rowid.
_INDEX_COLUMNS = (
    "pack_ord INTEGER, ord INTEGER, pack_id TEXT, card_id TEXT, note_id TEXT, text TEXT, tags TEXT, "
    "content_hash TEXT, orphaned INTEGER"
)
# One plain join that SQLite flattens into the outer query: a derived column costs only where it is used.
_DERIVED = f"""
    SELECT q.rowid AS position, q.pack_ord, q.ord, q.pack_id, q.card_id, q.note_id, q.text,
           q.tags || coalesce(s.tags || ' ', '') AS tags, q.orphaned,
           coalesce(s.state, {NEW}) AS state, s.due_ms, s.last_review_ms, s.stability, s.difficulty,
           coalesce(s.reps, 0) AS reps, coalesce(s.lapses, 0) AS lapses, coalesce(s.suspended, 0) AS suspended,
           coalesce(s.buried_until_ms, 0) > :now AS buried,
           instr(' ' || s.tags || ' ', ' {LEECH_TAG} ') > 0 AS leech,
           s.reps > 0 AND s.content_hash != q.content_hash AS edited,
           (s.due_ms - s.last_review_ms) / {DAY_MS}.0 AS ivl,
           CASE WHEN s.stability > 0 AND s.last_review_ms IS NOT NULL THEN
                pow(1 + :factor * max(0, (:now - s.last_review_ms) / {DAY_MS}) / s.stability, :decay) END AS r
    FROM temp.{_INDEX_TABLE} q LEFT JOIN card_state s ON s.pack_id = q.pack_id AND s.card_id = q.card_id
"""
_RESULT_COLUMNS = (
    "c.pack_id, c.card_id, c.orphaned, c.state, c.due_ms, c.last_review_ms, c.stability, c.difficulty, "
    "c.r, c.reps, c.lapses, c.suspended, c.buried, c.leech, c.edited"
)
SORT_KEYS = {  # browser column -> SQL order (NULLs last, ties in pack order)
    "pack": "c.position",
    "card": "c.card_id, c.pack_id",
    "state": "c.state",
    "due": "c.due_ms",
    "interval": "c.ivl",
    "stability": "c.stability",
    "difficulty": "c.difficulty",
    "retrievability": "c.r",
    "reviews": "c.reps",
    "lapses": "c.lapses",
    "flags": "c.suspended + c.buried + c.leech + c.edited + c.orphaned",
}


class _CardIndex:
    """The loaded cards, then the orphaned states, in the store connection's TEMP table; rebuilt when the
    packs change (orphans are found here, once: the app writes states only for loaded cards)."""

    def __init__(self, store: Store, packs: tuple[Pack, ...]) -> None:
        self.packs = packs
        # Hundreds of thousands of new tuples, none in a cycle: with the collector on, its repeated
        # passes over the loaded packs took half of the build (0.49 of 1.29 s at 100k cards, profiled).
        with collector_paused():
            self.cards = {(pack.id, card.id): card for pack in packs for card in pack.cards}
            rows = self._card_rows(packs)
        stored = store.query("SELECT pack_id, card_id FROM card_state ORDER BY pack_id, card_id")
        orphans = [key for key in map(tuple, stored) if key not in self.cards]
        rows += [
            (ORPHAN_ORDER, 0, pack_id, card_id, None, None, " ", None, 1) for pack_id, card_id in orphans
        ]
        store.fill_temp_table(_INDEX_TABLE, _INDEX_COLUMNS, rows)
        store.define_function("regexp", 2, _regexp)

    @staticmethod
    def _card_rows(packs: tuple[Pack, ...]) -> list[tuple[object, ...]]:
        """One index row per loaded card; one comprehension: at 100k cards a Python loop is most of it."""
        return [
            (
                p,
                o,
                pack.id,
                card.id,
                card.note_id,
                f"{card.front}\n{card.back}".casefold(),
                f" {' '.join(card.tags).casefold()} ",
                card.content_hash,
                0,
            )
            for p, pack in enumerate(packs)
            for o, card in enumerate(pack.cards)
        ]

    def holds(self, packs: tuple[Pack, ...]) -> bool:
        return len(packs) == len(self.packs) and all(a is b for a, b in zip(packs, self.packs))


_indexes: weakref.WeakKeyDictionary[Store, _CardIndex] = weakref.WeakKeyDictionary()


def _index(store: Store, packs: Sequence[Pack]) -> _CardIndex:
    packs = tuple(packs)
    index = _indexes.get(store)
    if index is None or not index.holds(packs):
        index = _indexes[store] = _CardIndex(store, packs)
    return index


def forget_index(store: Store) -> None:
    """Rebuild the index at the next query (after orphaned states were deleted)."""
    _indexes.pop(store, None)


def _regexp(pattern: str, value: str | None) -> bool:
    return value is not None and re.search(pattern, value) is not None


def forgetting_curve(config: Config) -> tuple[float, float]:
    """(decay, factor) of FSRS' curve R = (1 + factor * days / stability) ** decay for these settings."""
    decay = -(config.fsrs_parameters or DEFAULT_PARAMETERS)[20]
    return decay, 0.9 ** (1 / decay) - 1


def _time_params(now: datetime, config: Config) -> dict[str, object]:
    tz = config.tzinfo()
    today = study_day(now, config.rollover_hour, tz)
    decay, factor = forgetting_curve(config)
    return {
        "now": to_ms(now),
        "day_start": to_ms(day_start(today, config.rollover_hour, tz)),
        "day_end": to_ms(day_start(today + timedelta(days=1), config.rollover_hour, tz)),
        "decay": decay,
        "factor": factor,
    }


def search(
    store: Store,
    packs: Sequence[Pack],
    query: Query | str,
    now: datetime,
    config: Config | None = None,
    order: str = "pack",
    descending: bool = False,
    limit: int | None = None,
) -> SearchResult:
    """The cards of `packs` (and orphaned states) matching `query` at `now`, sorted by a SORT_KEYS column."""
    query = parse_query(query) if isinstance(query, str) else query
    index = _index(store, packs)
    direction = " DESC" if descending else ""
    if order == "pack":  # the table's rowid order: no sort, and LIMIT stops the scan early
        ordering = f"c.position{direction}"
    else:  # NULLs (never answered) last either way
        ordering = ", ".join(f"{term} IS NULL, {term}{direction}" for term in SORT_KEYS[order].split(", "))
    params = {**_time_params(now, config or Config()), **query.params}
    sql = f"SELECT {_RESULT_COLUMNS} FROM ({_DERIVED}) c WHERE {query.sql} ORDER BY {ordering}, c.position"
    rows = store.query(sql + (f" LIMIT {int(limit)}" if limit is not None else ""), params)
    total = len(rows)
    if limit is not None and total >= limit:  # cut: count them all (no sort, no row objects)
        total = store.query(f"SELECT count(*) FROM ({_DERIVED}) c WHERE {query.sql}", params)[0][0]
    return SearchResult([_match(values, index.cards) for values in rows], total)


def matching_keys(
    store: Store, packs: Sequence[Pack], query: Query | str, now: datetime, config: Config | None = None
) -> list[tuple[str, str]]:
    """(pack id, card id) of every match, in pack order: what `cardlab cards ACTION QUERY` acts on."""
    query = parse_query(query) if isinstance(query, str) else query
    _index(store, packs)
    params = {**_time_params(now, config or Config()), **query.params}
    sql = f"SELECT c.pack_id, c.card_id FROM ({_DERIVED}) c WHERE {query.sql} ORDER BY c.position"
    return [(pack_id, card_id) for pack_id, card_id in store.query(sql, params)]


def _match(values: Sequence, cards: dict[tuple[str, str], Card]) -> CardMatch:
    pack_id, card_id, orphaned, state, due, last, stability, difficulty, r, reps, lapses = values[:11]
    suspended, buried, leech, edited = values[11:15]
    return CardMatch(
        pack_id,
        card_id,
        None if orphaned else cards[(pack_id, card_id)],
        state,
        due,
        last,
        stability,
        difficulty,
        r,
        reps,
        lapses,
        bool(suspended),
        bool(buried),
        bool(leech),
        bool(edited),
    )
