"""`cardlab` (the app), `cardlab study PACK_OR_PATH`, `cardlab stats [--json]` and `cardlab optimize`."""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

from tui.commands import home_from_args
from tui.safe_text import printable

if TYPE_CHECKING:
    import argparse

    from cards.fsrs_rs import WorkloadPoint
    from cards.fsrs_stats import Calibration
    from cards.paths import Home
    from cards.stats import MonthRetention, Stats


def register(subparsers: argparse._SubParsersAction) -> None:
    study = subparsers.add_parser(
        "study",
        help="study one pack now",
        description="Open the app straight into studying one pack: a pack id (see the home screen) or a "
        "path to a pack's TOML file.",
    )
    study.add_argument(
        "pack", metavar="PACK_OR_PATH", help="a pack id such as fastai-lesson4, or a .toml file"
    )
    _home_option(study)
    study.set_defaults(handler=run_study)

    stats = subparsers.add_parser(
        "stats",
        help="reviews, retention, forecast and per-pack counts",
        description="Print today's numbers: reviews, true retention over 30 days, what is due, per pack.",
    )
    stats.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    _home_option(stats)
    stats.set_defaults(handler=run_stats)

    optimize = subparsers.add_parser(
        "optimize",
        help="fit the FSRS parameters to your own reviews",
        description="Fit FSRS' parameters to your review history with fsrs-rs (the optimizer Anki ships), "
        "measure them on a time-series split (fit on older reviews, predict newer ones) and save them to "
        "config.toml only when they predict held-out reviews better than the ones in use.",
    )
    optimize.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    _home_option(optimize)
    optimize.set_defaults(handler=run_optimize)

    doctor = subparsers.add_parser(
        "doctor",
        help="check the review store and recover a damaged one",
        description="Check the review store; when it is damaged, copy every readable card state and "
        "review into a fresh store, keep the damaged file aside, and say what was lost.",
    )
    _home_option(doctor)
    doctor.set_defaults(handler=run_doctor)


def _home_option(parser: argparse.ArgumentParser) -> None:
    """`--home` also after the command (`cardlab stats --home DIR`); the global one stays the default."""
    import argparse  # not at the top: opening the app does without it (`tui.cli.plain_app_arguments`)

    parser.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _fail(message: str) -> int:
    print(f"cardlab: {printable(message)}", file=sys.stderr)
    return 1


def open_app(home: Home, pack_filter: str | None = None) -> int:
    """Run the app (the home screen, or studying `pack_filter`); startup problems print and exit 1."""
    # Start-up allocates much and frees little: no collector sweeps until the first frame is out (the
    # app turns it back on then), a twentieth of the time to the first card.
    gc.disable()
    try:
        return _run_app(home, pack_filter)
    finally:
        gc.enable()


def _run_app(home: Home, pack_filter: str | None) -> int:
    from tui.app import StartupError, create_app

    try:
        app = create_app(home, pack_filter=pack_filter)
    except StartupError as err:
        return _fail(str(err))
    # What is loaded now (modules, packs, the app) lives as long as the app: taken out of the garbage
    # collector's sweeps, which otherwise walk every card of a large pack (100k cards: 40 ms at mount).
    gc.freeze()
    app.run()
    return app.return_code or 0


def run_study(args: argparse.Namespace) -> int:
    return open_app(home_from_args(args), pack_filter=args.pack)


def run_stats(args: argparse.Namespace) -> int:
    import json  # here, not at the top: studying starts without it

    from cards.config import ConfigError, load_config
    from cards.discover import discover_packs
    from cards.fsrs_rs import FsrsUnavailable
    from cards.fsrs_stats import calibration_to_json, collect_calibration, workload, workload_to_json
    from cards.stats import collect_stats, retention_by_month, retention_by_month_to_json, stats_to_json
    from cards.store import Store, StoreError

    home = home_from_args(args)
    try:
        config = load_config(home)
        packs, _ = discover_packs(home)
        with Store.open_read_only(home.store_path) as store:  # reads only: works in a read-only home
            stats = collect_stats(store, packs, config)
            months = retention_by_month(store, config)
            calibration = collect_calibration(store, config)
        cards = sum(len(pack.cards) for pack in packs)
        points = list(workload(config, cards, len(packs)))
    except (ConfigError, StoreError, FsrsUnavailable) as err:
        return _fail(str(err))
    if args.json:
        report = stats_to_json(stats)
        report["retention_by_month"] = retention_by_month_to_json(months)
        report["calibration"] = calibration_to_json(calibration)
        report["workload"] = workload_to_json(points, config, cards)
        print(json.dumps(report, indent=2))
    else:
        print_stats(stats)
        print_memory_stats(months, calibration, points, config.desired_retention)
    return 0


def print_stats(stats: Stats) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from tui.screens.stats import retention_text, spent_text
    from tui.widgets.bars import render_bars
    from tui.widgets.heatmap import render_heatmap

    console = Console(highlight=False)
    console.print(Text(f"Statistics for {stats.today.isoformat()}", style="bold"))
    console.print(
        f"  reviews today   {stats.reviews_today} ({spent_text(stats.seconds_today)})", markup=False
    )
    console.print(f"  true retention  {retention_text(stats)}", markup=False)
    console.print(f"  due today       {stats.due_today}", markup=False)
    console.print(
        f"  new today       {stats.new_today} introduced, {stats.new_available} more available", markup=False
    )
    console.print(f"  never seen      {stats.never_seen}", markup=False)
    console.print(f"  reviews in all  {stats.reviews_total}", markup=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("pack", no_wrap=True)
    for label in ("cards", "due", "new", "unseen", "suspended", "leeches", "reviews"):
        table.add_column(label, justify="right")
    for pack in stats.packs.values():
        numbers = (pack.cards, pack.due_today, pack.new_today, pack.never_seen, pack.suspended, pack.leeches)
        table.add_row(
            Text(printable(pack.pack_id, one_line=True)), *(str(n) for n in (*numbers, pack.reviews_total))
        )
    console.print(table)
    console.print(Text("Due in the next 30 days", style="bold"))
    console.print(render_bars([count for _, count in stats.forecast]))
    console.print(Text("Reviews per day", style="bold"))
    console.print(render_heatmap(stats.heatmap, stats.today))
    if stats.orphaned:
        console.print(
            (
                "1 reviewed card is no longer in any pack"
                if len(stats.orphaned) == 1
                else f"{len(stats.orphaned)} reviewed cards are no longer in any pack"
            )
            + " (history kept; --json lists them)",
            markup=False,
        )


def print_memory_stats(
    months: list[MonthRetention], calibration: Calibration | None, points: list[WorkloadPoint], current: float
) -> None:
    from rich.console import Console
    from rich.text import Text

    from tui.widgets.calibration import render_calibration, render_retention_by_month
    from tui.widgets.workload import render_workload

    console = Console(highlight=False)
    console.print(Text("True retention by month", style="bold"))
    console.print(render_retention_by_month(months))
    console.print(Text("Predicted vs actual recall", style="bold"))
    console.print(render_calibration(calibration))
    console.print(
        Text(
            f"Workload against desired retention (a simulated year, desired_retention = {current})",
            style="bold",
        )
    )
    console.print(render_workload(points, current))


def run_optimize(args: argparse.Namespace) -> int:
    import json

    from cards.optimize import FsrsUnavailable, NotEnoughReviews, optimize, result_to_json
    from cards.store import Store, StoreError

    home = home_from_args(args)
    try:
        with Store.open(home.store_path) as store:
            result = optimize(store, home)
    except (NotEnoughReviews, FsrsUnavailable, StoreError) as err:
        return _fail(str(err))
    if args.json:
        print(json.dumps(result_to_json(result), indent=2))
        return 0
    print(
        f"Fitted FSRS parameters on {result.reviews} reviews in {result.fit_seconds:.2f} s "
        f"({result.seconds:.2f} s in all, with the time-series split)."
    )
    print(f"Predicting the {result.held_out} newer reviews from fits on the older ones:")
    rows = [("defaults", result.default), ("fitted", result.split_fitted)]
    if result.current != result.default:
        rows.insert(1, ("in use", result.current))
    for label, scores in rows:
        print(f"  {label:<9} log loss {scores.log_loss:.4f}  RMSE(bins) {scores.rmse_bins:.4f}")
    if result.saved:
        print(
            f"The fit predicts them better ({result.improvement:.1%} lower log loss than the parameters in "
            f"use): saved to {printable(str(result.config_path))}"
        )
    else:
        print("The fit does not predict them better than the parameters in use: kept the current ones.")
        if result.current != result.default:
            print(
                "(Parameters fitted earlier may have seen these newer reviews, which favours them; "
                "the saved ones stay until a fit beats them.)"
            )
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from cards.doctor import recover
    from cards.store import StoreError

    path = home_from_args(args).store_path
    try:
        report = recover(path)
    except (OSError, StoreError) as err:
        return _fail(f"could not recover {path}: {err}")
    if report.healthy:
        print(printable(f"the review store {path} is sound"))
        return 0
    for problem in report.problems:
        print(printable(f"damaged: {problem}", one_line=True))
    states = f"{report.card_states} card state" + ("" if report.card_states == 1 else "s")
    reviews = f"{report.reviews} review" + ("" if report.reviews == 1 else "s")
    print(printable(f"recovered {states} and {reviews} into {path}"))
    for lost in report.lost:
        print(printable(f"lost: {lost}", one_line=True))
    print(printable(f"the damaged file is kept at {report.backup}"))
    return 0
