"""`cardlab import anki` on a package: how long the first import and an unchanged re-import take.

Imports into a fresh temporary home, three rounds each (median), and prints one JSON object as its last
line: reviews imported, the median seconds of a first import and of a re-import (which adds nothing).

    .venv/bin/python bench/anki_import.py --apkg PATH [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cards.anki.importer import import_anki  # noqa: E402
from cards.config import Config  # noqa: E402
from cards.store import Store  # noqa: E402
from cards.study_day import utc_now  # noqa: E402


def one_round(apkg: Path) -> tuple[float, float, int, int]:
    with tempfile.TemporaryDirectory() as scratch:
        store = Store.open(Path(scratch) / "store.sqlite3")
        started = time.perf_counter()
        first = import_anki(apkg, Path(scratch) / "packs", store, Config(), utc_now())
        middle = time.perf_counter()
        again = import_anki(apkg, Path(scratch) / "packs", store, Config(), utc_now())
        ended = time.perf_counter()
        store.close()
    assert again.reviews_imported == 0, "a re-import added reviews"
    return middle - started, ended - middle, first.reviews_imported, first.cards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apkg", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [one_round(args.apkg) for _ in range(args.rounds)]
    print(
        json.dumps(
            {
                "package": args.apkg.name,
                "cards": rounds[0][3],
                "reviews": rounds[0][2],
                "first_import_s": round(statistics.median(r[0] for r in rounds), 3),
                "reimport_s": round(statistics.median(r[1] for r in rounds), 3),
                "rounds": args.rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
