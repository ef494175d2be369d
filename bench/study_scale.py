"""Study core at scale: a 100,000-card pack with 1,000,000 review rows.

Measures loading the pack (parsed, against tomllib parsing the same file; then as the app does it:
`discover_packs`, whose first run writes the validated-pack cache and whose later runs read it; median of
3), opening the store + building the session + picking the first card (default settings; median of 3), an
answer (commit + next card) over 200 answers, an undo, and the stats. Goals: first card < 1 s including the
cached pack load, an answer < 10 ms.
Prints one JSON object as its last line.

    .venv/bin/python bench/study_scale.py [--cards 100000] [--reviews 1000000] [--answers 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scale_data import make_scale_home  # noqa: E402
from cards.config import Config  # noqa: E402
from cards.discover import discover_packs  # noqa: E402
from cards.pack import load_pack  # noqa: E402
from cards.schedule import StudySession  # noqa: E402
from cards.stats import collect_stats  # noqa: E402
from cards.store import Store  # noqa: E402

RUNS = 3  # session builds measured (median reported); the store is reopened each time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--answers", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cardlab-scale-") as folder:
        started = time.perf_counter()
        scale = make_scale_home(folder, args.cards, args.reviews)
        generate_s = time.perf_counter() - started

        started = time.perf_counter()
        tomllib.loads(scale.pack_path.read_text(encoding="utf-8"))
        toml_parse_s = time.perf_counter() - started  # the floor: parsing the same file, nothing checked

        started = time.perf_counter()
        pack = load_pack(scale.pack_path)
        load_pack_s = time.perf_counter() - started

        started = time.perf_counter()
        discover_packs(scale.home)  # the app's path: this first run parses and writes the cache
        discover_first_s = time.perf_counter() - started
        discover_runs = []
        for _ in range(RUNS):
            started = time.perf_counter()
            packs, _ = discover_packs(scale.home)
            discover_runs.append(time.perf_counter() - started)
        assert [p for p in packs if p.id == scale.pack_id] == [pack], "the cached pack differs"

        first_card_runs = []
        for _ in range(RUNS):
            started = time.perf_counter()
            store = Store.open(scale.home.store_path)
            session = StudySession(store, [pack], Config())
            card = session.next_card()
            first_card_runs.append(time.perf_counter() - started)
            if len(first_card_runs) < RUNS:
                store.close()
        counts = session.counts()

        answer_ms = []
        for index in range(args.answers):
            if card is None:
                break
            started = time.perf_counter()
            session.answer(card, rating=(3, 3, 1, 4, 2)[index % 5], duration_ms=4000)
            card = session.next_card()
            answer_ms.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        session.undo()
        session.next_card()
        undo_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        collect_stats(store, [pack], Config())
        stats_s = time.perf_counter() - started
        store.close()
        database_mb = sum(p.stat().st_size for p in scale.home.data_dir.glob("reviews.sqlite3*")) / 1e6

    answer_ms.sort()
    print(
        json.dumps(
            {
                "bench": "study_scale",
                "cards": args.cards,
                "review_rows": args.reviews,
                "database_mb": round(database_mb, 1),
                "generate_s": round(generate_s, 2),
                "toml_parse_s": round(toml_parse_s, 3),
                "load_pack_s": round(load_pack_s, 3),
                "load_pack_vs_toml_parse": round(load_pack_s / toml_parse_s, 2),
                "discover_packs_first_s": round(discover_first_s, 3),
                "discover_packs_cached_s": round(statistics.median(discover_runs), 3),
                "discover_packs_cached_runs_s": [round(t, 3) for t in discover_runs],
                "open_store_session_first_card_s": round(statistics.median(first_card_runs), 3),
                "open_store_session_first_card_runs_s": [round(t, 3) for t in first_card_runs],
                "cached_load_and_first_card_s": round(
                    statistics.median(discover_runs) + statistics.median(first_card_runs), 3
                ),
                "first_card_goal_s": 1.0,
                "counts_at_start": {"new": counts.new, "learning": counts.learning, "review": counts.review},
                "answers": len(answer_ms),
                "answer_mean_ms": round(statistics.fmean(answer_ms), 3),
                "answer_p95_ms": round(answer_ms[int(0.95 * (len(answer_ms) - 1))], 3),
                "answer_max_ms": round(answer_ms[-1], 3),
                "answer_goal_ms": 10.0,
                "undo_and_next_card_ms": round(undo_ms, 2),
                "collect_stats_s": round(stats_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
