"""Lab `discriminative-lr`: one learning rate for every layer group, or each group 2.6 times slower than
the one above; and the small search that 2.6 comes from.

The lesson's notebook:

    learn.fit_one_cycle(1, slice(1e-2 / (2.6**4), 1e-2))   # each group's lr is 2.6x below the next one's

ULMFiT (Howard & Ruder 2018, §3.2): "We empirically found it to work well to first choose the learning rate
of the last layer by fine-tuning only the last layer and using eta^(l-1) = eta^l / 2.6 as the learning rate
for lower layers." The lesson adds how such a number is found: train many models, then fit a random
forest that predicts the result from the hyperparameters. The lab does both in miniature:

- the claim: discriminative rates (ratio 2.6) against one rate for all groups (ratio 1), the same epochs,
  each arm's top rate picked from the same grid on a tuning split; held-out reviews over seeds decide;
- the search: random (ratio, top rate) trials scored on the tuning split, with the tuning runs, and a
  random forest fitted on them: where does 2.6 land?
"""

from __future__ import annotations

import math
import random

import numpy as np

from labs._experiment import SeedResults
from labs._finetune import (
    Arm,
    Experiment,
    Fit,
    Stage,
    Tuning,
    held_out_runs,
    load_reported_split,
    parse_grid,
    split_encoder,
    tune_arms,
)
from labs._forest import fit_forest
from labs._ulmfit import RATIO
from labs.context import LabContext
from labs.verdict import Verdict, outcome_for

CLAIM = (
    "Discriminative learning rates (each layer group 2.6 times slower than the one above) fine-tune the "
    "pretrained classifier better than one learning rate for every group, on the same budget and each "
    "arm's top rate tuned on the same grid."
)
METRIC = "held-out accuracy"
ONE, DISCR = "ratio 1 (one rate)", f"ratio {RATIO:g}"
# ULMFiT Table 7, IMDb validation error (%), checked against the text of arXiv 1801.06146v5: fine-tuning
# the whole classifier at once with one rate (Full) and with discriminative rates (Full + discr).
PAPER_ERROR = {ONE: 6.87, DISCR: 5.57}
RATIO_RANGE = (1.0, 10.0)  # the search draws ratios log-uniformly between these
FOREST_RATIOS = (1.0, 1.5, 2.0, 2.6, 3.5, 5.0, 7.0, 10.0)  # where the forest's prediction is read


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        split = load_reported_split(ctx, favours_none_of="learning-rate ratio")

    with ctx.stage("encoder"):
        vocab, encoder = split_encoder(ctx, split, p.lm_epochs)

    exp = Experiment(ctx, split, vocab, encoder, p.bs)
    unfrozen = (Stage(0, p.epochs, 1.0),)
    arms = [Arm(ONE, unfrozen, 1.0), Arm(DISCR, unfrozen, RATIO)]
    seeds = ctx.seeds
    grid = parse_grid(p.lrs)
    with ctx.stage("tuning"):
        tuning = tune_arms(exp, arms, grid, seeds[0])
        ctx.table(f"tuning-split accuracy per top learning rate (seed {seeds[0]})", *tuning.table())
        rows = exp.stage_table(arms, tuning.chosen)
        ctx.table("what each arm trains, at its chosen top rate", rows[0], rows[1:])

    with ctx.stage("ratio search"):
        search = ratio_search(ctx, exp, tuning, p.search_trials, p.epochs, grid, seeds[0])

    results = SeedResults(METRIC, higher_is_better=True)
    with ctx.stage("held-out runs"):
        held_out_runs(exp, arms, tuning, seeds, results)
        ctx.table(f"{METRIC} per seed, every arm {p.epochs} epochs", *results.table(seeds))
    chance = exp.chance_note({arm: results.mean(arm) for arm in results.by_arm})
    if chance:
        ctx.text(chance, kind="explanation")
    verdict = ctx.judge(CLAIM, results.differences(DISCR, ONE), metric=METRIC)
    paper = (PAPER_ERROR[ONE] - PAPER_ERROR[DISCR]) / 100
    ctx.text(explain(verdict, paper, search, len(seeds)), kind="explanation")
    yes, no = ctx.info.choices
    return {
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, yes, no),
        "accuracy": {arm: round(results.mean(arm), 4) for arm in results.by_arm},
        "per_seed": {arm: [round(v, 4) for v in values] for arm, values in results.by_arm.items()},
        "paper_effect": round(paper, 4),
        "near_chance": bool(chance),
        "tuning": tuning.to_dict(),
        "search": search,
    }


def ratio_search(
    ctx: LabContext,
    exp: Experiment,
    tuning: Tuning,
    trials: int,
    epochs: int,
    grid: tuple[float, ...],
    seed: int,
) -> dict[str, object]:
    """Random (ratio, top rate) trials on the tuning split, plus the tuning runs (ratios 1 and 2.6 on the
    grid); a random forest fitted on all of them, read along the ratio axis."""
    rng = random.Random(ctx.seed)
    low, high = math.log(min(grid)), math.log(max(grid))
    points: list[tuple[float, float, float, str]] = []  # ratio, lr, tuning accuracy, where from
    for name, row in tuning.scores.items():
        ratio = 1.0 if name == ONE else RATIO
        points += [(ratio, lr, score, "tuning grid") for lr, score in row.items()]
    trials_drawn = []
    for _ in range(trials):
        ratio = math.exp(rng.uniform(math.log(RATIO_RANGE[0]), math.log(RATIO_RANGE[1])))
        lr = math.exp(rng.uniform(low, high)) if high > low else min(grid)
        arm = Arm(f"ratio {ratio:.2f}", (Stage(0, epochs, 1.0),), ratio)
        trials_drawn.append(Fit(arm, lr, seed, f"search · ratio {ratio:.2f} · lr {lr:.2g}", on_tuning=True))
    for fit, run in zip(trials_drawn, exp.run_fits(trials_drawn)):
        points.append((fit.arm.ratio, fit.lr, run.accuracy, "random"))
    ranked = sorted(points, key=lambda t: -t[2])
    ctx.table(
        f"the search: {len(points)} trials on the tuning split (seed {seed}), best first",
        ["rank", "ratio", "top lr", "tuning accuracy", "trial"],
        [
            [str(i + 1), f"{r:.2f}", f"{lr:.3g}", f"{acc:.3f}", how]
            for i, (r, lr, acc, how) in enumerate(ranked)
        ],
    )
    x = np.array([[math.log(r), math.log(lr)] for r, lr, _, _ in points])
    y = np.array([acc for _, _, acc, _ in points])
    forest = fit_forest(x, y, seed=ctx.seed)
    lrs = np.exp(np.linspace(low, high, 9)) if high > low else np.array([min(grid)])
    profile = []
    for ratio in FOREST_RATIOS:
        predicted = forest.predict(np.array([[math.log(ratio), math.log(lr)] for lr in lrs]))
        best = int(np.argmax(predicted))
        profile.append((ratio, float(predicted[best]), float(lrs[best])))
    order = sorted(range(len(profile)), key=lambda i: -profile[i][1])
    rank_of = {profile[i][0]: rank + 1 for rank, i in enumerate(order)}
    best_ratio = profile[order[0]][0]
    n_tune = len(exp.split.tune[0])
    mean_acc = float(y.mean())
    tune_se = math.sqrt(max(mean_acc * (1 - mean_acc), 1e-12) / n_tune)
    ctx.table(
        "the random forest's prediction along the ratio (its best top lr for each ratio)",
        ["ratio", "predicted tuning accuracy", "at top lr", "rank"],
        [[f"{r:g}", f"{acc:.3f}", f"{lr:.3g}", str(rank_of[r])] for r, acc, lr in profile],
    )
    at_26 = next(acc for r, acc, _ in profile if r == RATIO)
    spread = max(acc for _, acc, _ in profile) - min(acc for _, acc, _ in profile)
    return {
        "trials": [
            {"ratio": round(r, 4), "lr": round(lr, 6), "tuning_accuracy": round(acc, 4), "from": how}
            for r, lr, acc, how in points
        ],
        "forest_best_ratio": best_ratio,
        "rank_of_2_6": rank_of[RATIO],
        "ratios_read": len(FOREST_RATIOS),
        "predicted_at_2_6": round(at_26, 4),
        "predicted_best": round(profile[order[0]][1], 4),
        "predicted_spread": round(spread, 4),
        "tuning_se": round(tune_se, 4),
    }


def explain(verdict: Verdict, paper: float, search: dict[str, object], n_seeds: int) -> str:
    found = (
        f"The search's forest ranks ratio 2.6 {search['rank_of_2_6']} of {search['ratios_read']} ratios read "
        f"(predicted tuning accuracy {search['predicted_at_2_6']:.3f}; best {search['forest_best_ratio']:g} at "
        f"{search['predicted_best']:.3f}); its predictions span {search['predicted_spread']:.3f}, against a "
        f"tuning-split standard error of about {search['tuning_se']:.3f} per trial, so a search this small "
        "can rule out only ratios that are much worse."
    )
    if n_seeds < 2 or verdict.note:
        return f"{found} {verdict.note or 'One seed cannot decide.'}"
    measured = (
        f"Ratio 2.6 minus ratio 1 on held-out reviews over {n_seeds} seeds: {verdict.effect:+.3f} "
        f"(threshold {verdict.threshold:.3f}; this run could detect about {verdict.min_detectable_effect:.3f}). "
        f"The paper's gain on IMDb (Full 6.87 % -> Full + discr 5.57 % error) is {paper:.3f}"
    )
    if paper < verdict.min_detectable_effect:
        measured += ", smaller than this run could detect"
    word = {
        True: "discriminative rates win by more than the seeds' spread",
        False: "one rate wins by more than the seeds' spread",
        None: "neither wins by more than the seeds' spread",
    }[verdict.agrees]
    return f"{found} {measured}. Verdict: {word}."
