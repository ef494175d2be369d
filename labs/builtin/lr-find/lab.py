"""Lab `lr-find`: the learning-rate finder, its suggestions, and why the pick sits before the minimum.

The lesson's notebook:

    learn.lr_find()
    learn.recorder.plot()          # loss against lr, log scale
    learn.fit(1, 1e-2)             # a rate where the loss still falls steeply, not the minimum
"""

from __future__ import annotations

from engine.metrics import accuracy
from engine.tabular import TabularLearner, tabular_data, tabular_learner
from labs._census import CAT_NAMES, CONT_NAMES, TARGET, load_census
from labs._evidence import cross_entropy_per_example
from labs.context import LabContext
from labs.verdict import judge, outcome_for, paired_noise

CLAIM = (
    "A learning rate on the steep descent before the lr finder's minimum trains better than the rate at "
    "the minimum itself."
)


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        df, source = load_census(ctx.data, p.rows, ctx.seed)
        n_valid = max(len(df) // 5, 1)
        data = tabular_data(
            df,
            CAT_NAMES,
            CONT_NAMES,
            TARGET,
            valid_idx=range(len(df) - n_valid, len(df)),
            bs=p.bs,
            seed=ctx.seed,
        )
        ctx.text(f"{source}: a tabular model predicting `{TARGET}`, the last {n_valid} rows for validation.")
        ctx.expect_steps(p.num_it + 2 * p.epochs * len(data.dls.train))

    def new_learner() -> TabularLearner:
        ctx.reseed()  # every learner starts from the same weights, so only the learning rate differs
        return ctx.watch(
            tabular_learner(data, layers=[200, 100], metrics=accuracy, device=ctx.device, path=ctx.work_dir)
        )

    with ctx.stage("lr finder"):
        found = ctx.lr_find(new_learner(), start_lr=p.start_lr, end_lr=p.end_lr, num_it=p.num_it)
        at_minimum = found.minimum * 10  # the engine's `minimum` suggestion is already a step back (/10)
        ctx.table(
            "what the finder suggests",
            ["suggestion", "learning rate", "meaning"],
            [
                ["valley", found.valley, "two thirds down the longest descent: the usual pick"],
                ["steep", found.steep, "where the loss falls fastest"],
                ["minimum / 10", found.minimum, "a step back from the lowest loss"],
                ["lowest loss", at_minimum, "the edge: a little further and the loss explodes"],
            ],
        )
        ctx.text(
            f"The loss is lowest near lr = {at_minimum:.2g}, but the sweep has been raising the rate at every "
            "step: at that point training is about to diverge. Pick a rate where the loss is still falling "
            f"steeply, about ten times lower: here the valley, {found.valley:.2g}.",
            kind="explanation",
        )

    results = {}
    losses: dict[str, list[float]] = {}
    for stage, name, lr in (
        ("fit at the suggestion", "suggestion", found.valley),
        ("fit at the minimum", "minimum", at_minimum),
    ):
        if p.epochs == 0:
            break
        with ctx.stage(stage):
            ctx.curve(f"lr {lr:.2g} ({name})")
            learn = new_learner()
            learn.fit(p.epochs, lr)  # a constant rate: what the finder measured at each step
            results[name] = learn.validate()
            losses[name] = cross_entropy_per_example(learn)

    summary: dict[str, object] = {"valley": found.valley, "steep": found.steep, "lowest_loss_lr": at_minimum}
    if results:
        for name, metrics in results.items():
            summary[f"{name}_valid_loss"] = round(float(metrics["valid_loss"]), 4)
            summary[f"{name}_accuracy"] = round(float(metrics["accuracy"]), 4)
        effect = sum(losses["minimum"]) / len(losses["minimum"]) - sum(losses["suggestion"]) / len(
            losses["suggestion"]
        )
        verdict = judge(CLAIM, effect, paired_noise(losses["minimum"], losses["suggestion"]))
        summary["verdict"] = verdict.to_dict()
        minimum, suggestion = ctx.info.choices
        summary["outcome"] = outcome_for(verdict, suggestion, minimum)
        ctx.text(
            f"valid loss {summary['suggestion_valid_loss']} at the suggestion against "
            f"{summary['minimum_valid_loss']} at the minimum.",
            kind="explanation",
        )
    else:
        summary["verdict"] = judge(CLAIM, float("nan"), float("inf")).to_dict()  # no fits: nothing measured
    return summary
