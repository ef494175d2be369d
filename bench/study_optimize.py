"""`cardlab optimize` on a simulated history: how long the fit takes and how much it helps.

The simulated student forgets faster than fsrs' default parameters predict, so fitted parameters should
lower the held-out log loss. Prints one JSON object as its last line (bench/optimize.py does the same on
a real review log).

    .venv/bin/python bench/study_optimize.py [--cards 150] [--reviews-per-card 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scale_data import simulate_history  # noqa: E402
from cards.optimize import optimize  # noqa: E402
from cards.paths import Home  # noqa: E402
from cards.store import Store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=150)
    parser.add_argument("--reviews-per-card", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cardlab-optimize-") as folder:
        home = Home.at(folder).ensure()
        with Store.open(home.store_path) as store:
            rows = simulate_history(store, args.cards, args.reviews_per_card)
            started = time.perf_counter()
            result = optimize(store, home)
            seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "bench": "study_optimize",
                "review_rows": rows,
                "scored_reviews": result.reviews,
                "optimize_s": round(seconds, 3),
                "fit_s": round(result.fit_seconds, 3),
                "log_loss_default": round(result.default.log_loss, 4),
                "log_loss_fitted": round(result.split_fitted.log_loss, 4),
                "rmse_bins_default": round(result.default.rmse_bins, 4),
                "rmse_bins_fitted": round(result.split_fitted.rmse_bins, 4),
                "improvement": round(result.improvement, 4),
                "saved": result.saved,
                "torch_imported": "torch" in sys.modules,
            }
        )
    )


if __name__ == "__main__":
    main()
