"""Lab `ulmfit-classifier`: the fine-tuned encoder, the same vocabulary, and ULMFiT's classifier ablation.

The lesson's notebook:

    data_clas = TextClasDataBunch.from_folder(path, vocab=data_lm.vocab, bs=bs)   # the SAME vocabulary
    learn = text_classifier_learner(data_clas, AWD_LSTM, drop_mult=0.5)
    learn.load_encoder("fine_tuned_enc")
    learn.freeze()
    learn.fit_one_cycle(1, 2e-2, moms=(0.8, 0.7))
    learn.freeze_to(-2)
    learn.fit_one_cycle(1, slice(1e-2 / (2.6**4), 1e-2), moms=(0.8, 0.7))
    learn.freeze_to(-3)
    learn.fit_one_cycle(1, slice(5e-3 / (2.6**4), 5e-3), moms=(0.8, 0.7))
    learn.unfreeze()
    learn.fit_one_cycle(2, slice(1e-3 / (2.6**4), 1e-3), moms=(0.8, 0.7))
    learn.predict("I really loved that movie, it was awesome!")

The experiment is the ULMFiT paper's classifier fine-tuning ablation (Howard & Ruder 2018, Table 7) in
miniature: {all at once, gradual unfreezing} x {one rate, discriminative rates}, four recipes of the same
five epochs, each with its own top rate picked from the same grid on a tuning split; the verdict compares
them on held-out reviews over seeds.
"""

from __future__ import annotations

import math

from engine.text import TextClassifierLearner, clas_data, text_classifier_learner
from labs._experiment import SeedResults
from labs._finetune import (
    Arm,
    ClasSplit,
    Experiment,
    Stage,
    held_out_runs,
    load_reported_split,
    parse_grid,
    split_encoder,
    tune_arms,
)
from labs._ulmfit import RATIO, config_of
from labs.context import LabContext
from labs.verdict import ALPHA, POWER, Verdict, outcome_for, standard_error, t_quantile

CLAIM = (
    "Gradual unfreezing (the head first, then one more layer group per stage) fine-tunes the pretrained "
    "classifier better than unfreezing everything at once, with one learning rate and with discriminative "
    "rates, on the same budget and each recipe's top rate tuned on the same grid."
)
METRIC = "held-out accuracy"
# The lesson's four stages: which groups train, epochs, and the stage's top rate as a fraction of the first
# stage's (2e-2, 1e-2, 5e-3, 1e-3 in the notebook). Five epochs in all: the all-at-once recipes get five too.
LESSON_STAGES = (Stage(-1, 1, 1.0), Stage(-2, 1, 0.5), Stage(-3, 1, 0.25), Stage(0, 2, 0.05))
AT_ONCE = (Stage(0, sum(s.epochs for s in LESSON_STAGES), 1.0),)
FULL, FULL_DISCR, FREEZ, FREEZ_DISCR = "all at once", "all at once + discr", "gradual", "gradual + discr"
# ULMFiT Table 7, IMDb validation error (%), checked against the text of arXiv 1801.06146v5.
PAPER_ERROR = {FULL: 6.87, FULL_DISCR: 5.57, FREEZ: 6.37, FREEZ_DISCR: 5.39}
LESSON_STAGE_ACCURACY = (0.927, 0.938, 0.940, 0.944)  # lesson 4, full IMDb on a GPU
# (name, claimed arm, rival arm): the two gradual-unfreezing comparisons the verdict weighs (Holm), and the
# two discriminative-rate ones it shows.
GRADUAL = (("one rate", FREEZ, FULL), ("discriminative rates", FREEZ_DISCR, FULL_DISCR))
DISCR = (("all at once", FULL_DISCR, FULL), ("gradual", FREEZ_DISCR, FREEZ))


def recipes() -> list[Arm]:
    return [
        Arm(FULL, AT_ONCE, 1.0),
        Arm(FULL_DISCR, AT_ONCE, RATIO),
        Arm(FREEZ, LESSON_STAGES, 1.0),
        Arm(FREEZ_DISCR, LESSON_STAGES, RATIO),
    ]


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        split = load_reported_split(ctx, favours_none_of="fine-tuning recipe")
        ctx.text(f"{split.train[0][0][:300]}  →  {split.train[1][0]}", title="a labelled review")

    with ctx.stage("encoder"):
        vocab, encoder = split_encoder(ctx, split, p.lm_epochs)
        ctx.text(
            "clas_data(..., vocab=data_lm.vocab): the classifier reads words with the language model's "
            "vocabulary, or the encoder's rows would belong to other words.",
            kind="explanation",
        )
        ctx.text(
            own_vocabulary_error(ctx, split, encoder), title="why vocab=data_lm.vocab", kind="explanation"
        )

    exp = Experiment(ctx, split, vocab, encoder, p.bs)
    arms = recipes()
    seeds = ctx.seeds
    with ctx.stage("tuning"):
        grid = parse_grid(p.lrs)
        tuning = tune_arms(exp, arms, grid, seeds[0])
        ctx.table(f"tuning-split accuracy per top learning rate (seed {seeds[0]})", *tuning.table())
        rows = exp.stage_table(arms, tuning.chosen)
        ctx.table("what each recipe trains, at its chosen top rate", rows[0], rows[1:])

    results = SeedResults(METRIC, higher_is_better=True)
    with ctx.stage("held-out runs"):
        held_out = held_out_runs(exp, arms, tuning, seeds, results, recorded=FREEZ_DISCR)
        ctx.table(f"{METRIC} per seed, every recipe {AT_ONCE[0].epochs} epochs", *results.table(seeds))
    chance = exp.chance_note({arm: results.mean(arm) for arm in results.by_arm})
    if chance:
        ctx.text(chance, kind="explanation")
    result = report(ctx, results, tuning.to_dict(), list(held_out.stage_accuracy), held_out.learner)
    result["near_chance"] = bool(chance)
    return result


def report(
    ctx: LabContext,
    results: SeedResults,
    tuning: dict[str, object],
    stages: list[float],
    learn: TextClassifierLearner | None,
) -> dict[str, object]:
    p = ctx.p
    verdict = ctx.judge(CLAIM, {name: results.differences(a, b) for name, a, b in GRADUAL}, metric=METRIC)
    effects = [effect_row(results, *row, kind="gradual") for row in GRADUAL]
    effects += [effect_row(results, *row, kind="discr") for row in DISCR]
    ctx.table(
        "effects over seeds beside the paper's (accuracy points = error points)",
        ["comparison", "effect", "± se", "min. detectable", "paper (IMDb)"],
        [
            [
                r["comparison"],
                f"{r['effect']:+.3f}",
                f"{r['se']:.3f}",
                f"{r['mde']:.3f}",
                f"{r['paper']:+.4f}",
            ]
            for r in effects
        ],
    )
    means = {arm: results.mean(arm) for arm in results.by_arm}
    ctx.table(
        "ULMFiT Table 7 (IMDb, full data) beside this run",
        ["recipe", "paper: accuracy", f"this run: {METRIC}"],
        [[arm, f"{1 - PAPER_ERROR[arm] / 100:.4f}", f"{means[arm]:.4f}"] for arm in means],
    )
    if stages:
        ctx.table(
            f"gradual + discr after each stage (seed {ctx.seeds[-1]}, held-out) beside the lesson's",
            ["stage", "lesson 4 (full IMDb)", "this run"],
            [
                [stage.call(), f"{lesson:.3f}", f"{ours:.3f}"]
                for stage, lesson, ours in zip(LESSON_STAGES, LESSON_STAGE_ACCURACY, stages)
            ],
        )
    ctx.text(explain(verdict, effects, len(ctx.seeds), p.labels), kind="explanation")
    at_once_wins, gradual_wins = ctx.info.choices
    result: dict[str, object] = {
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, gradual_wins, at_once_wins),
        "accuracy": {arm: round(value, 4) for arm, value in means.items()},
        "per_seed": {arm: [round(v, 4) for v in values] for arm, values in results.by_arm.items()},
        "effects": [{k: _json_number(v) for k, v in row.items()} for row in effects],
        "tuning": tuning,
        "stage_accuracy": [round(v, 4) for v in stages],
    }
    if learn is not None:
        with ctx.stage("predict"):
            model = learn
            ctx.text(
                describe_prediction(model, p.sentence), title=f"predict({p.sentence!r})", kind="prediction"
            )
            ctx.set_predictor(lambda text: describe_prediction(model, text))
    return result


def _json_number(value: object) -> object:
    """Rounded; JSON has no infinity (one seed has no spread): null."""
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value


def effect_row(results: SeedResults, name: str, claimed: str, rival: str, kind: str) -> dict[str, object]:
    """One comparison over seeds: mean paired difference, its standard error, the smallest effect this
    run could detect (80 % power, 95 % two-sided), and the paper's difference on IMDb."""
    diffs = results.differences(claimed, rival)
    n = len(diffs)
    se = standard_error(diffs)
    mde = (t_quantile(1 - ALPHA / 2, n - 1) + t_quantile(POWER, n - 1)) * se if n > 1 else float("inf")
    label = f"{claimed} − {rival}"
    return {
        "comparison": label,
        "kind": kind,
        "effect": sum(diffs) / n,
        "se": se,
        "mde": mde,
        "paper": (PAPER_ERROR[rival] - PAPER_ERROR[claimed]) / 100,
    }


def explain(verdict: Verdict, effects: list[dict[str, object]], n_seeds: int, labels: int) -> str:
    """What the run measured and what it could have detected, beside the paper's effect."""
    why = (
        "ULMFiT proposes gradual unfreezing against catastrophic forgetting: the new head's first, large "
        "gradients reach only the top layers. The paper measured it on 25,000 labelled IMDb reviews; this "
        f"run fine-tunes on {labels}."
    )
    if n_seeds < 2 or verdict.note:
        return f"{why} {verdict.note or 'One seed cannot decide.'}"
    lines = []
    for row in (r for r in effects if r["kind"] == "gradual"):
        effect, mde, paper = float(row["effect"]), float(row["mde"]), float(row["paper"])  # type: ignore[arg-type]
        detect = (
            f"the paper's gain, {paper * 100:.2f} points, is below the {mde * 100:.1f} points this run could "
            "detect: no verdict on an effect that size can come from a run like this"
            if paper < mde
            else f"the paper's gain, {paper * 100:.2f} points, is within what this run could detect ({mde * 100:.1f})"
        )
        lines.append(f"{row['comparison']}: {effect:+.3f} over {n_seeds} seeds; {detect}.")
    word = {
        True: "gradual unfreezing wins both comparisons by more than the seeds' spread",
        False: "all at once wins at least one comparison by more than the seeds' spread",
        None: "neither recipe wins by more than the seeds' spread",
    }[verdict.agrees]
    return f"{why} " + " ".join(lines) + f" Verdict: {word}."


def own_vocabulary_error(ctx: LabContext, split: ClasSplit, encoder: str) -> str:
    """What load_encoder says when the classifier data was numericalised with a vocabulary of its own."""
    texts, labels = split.train
    own = clas_data(texts, labels, bs=ctx.p.bs, is_valid=[False] * len(texts), seed=ctx.seed, min_freq=1)
    learn = text_classifier_learner(own, config=config_of(ctx), device=ctx.device, path=ctx.work_dir)
    try:
        learn.load_encoder(encoder)
    except ValueError as error:
        return f"Built with its own vocabulary, the classifier cannot use the encoder: {error}"
    return "This classifier data happens to have exactly the language model's vocabulary."


def describe_prediction(learn: TextClassifierLearner, text: str) -> str:
    label, _, probs = learn.predict(text)
    answer = f"{label} (" + ", ".join(f"{c}: {float(p):.0%}" for c, p in zip(learn.dls.classes, probs)) + ")"
    words = [t for t in learn.dls.tokenizer(text) if not t.startswith("xx")]
    unknown = [w for w in words if w not in learn.vocab.stoi]
    if unknown:
        answer += (
            f"; {len(unknown)} of {len(words)} words are outside the model's vocabulary and read as xxunk: "
            + ", ".join(unknown)
        )
    return answer
