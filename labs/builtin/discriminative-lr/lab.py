"""Lab `discriminative-lr`: the same fine-tuning with a ratio of 1, 2.6 and a large one between groups.

The lesson's notebook:

    learn.fit_one_cycle(1, slice(1e-2 / (2.6**4), 1e-2))   # each group's lr is 2.6x below the next one's

2.6 comes from ULMFiT (Howard and Ruder): found by trying, as one would tune any hyperparameter. Ratio 1
moves the pretrained encoder as fast as the new head; a large ratio all but freezes it.
"""

from __future__ import annotations

from engine.text import clas_data
from labs._evidence import correct_per_example, paired_noise, verdict_over_seeds
from labs._ulmfit import (
    classifier_with_encoder,
    encoder_for,
    fit_showing_groups,
    ladder,
    load_reviews,
    seed_table,
)
from labs.context import LabContext

CLAIM = (
    "A ratio of 2.6 between consecutive layer groups' learning rates fine-tunes a pretrained classifier "
    "better than one rate for all (ratio 1) and better than a large ratio."
)


def choices(ctx: LabContext) -> tuple[str, ...]:
    """The question's choices, in the order of the ratios tried."""
    return ctx.info.choices if ctx.info.question else ("1", "2.6", "large")


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        reviews = load_reviews(ctx.data, p.labels, p.valid_docs, p.review_docs, ctx.seed)
        ctx.text(reviews.source)

    with ctx.stage("encoder"):
        vocab, encoder = encoder_for(ctx, reviews, p.lm_epochs)

    ratios = (1.0, 2.6, p.large_ratio)
    seeds = list(range(ctx.seed, ctx.seed + p.seeds))
    per_seed: list[list[list[float]]] = []  # seed -> ratio -> per-example correctness
    for seed in seeds:
        if seed != ctx.seed and ctx.data is None:
            reviews = load_reviews(None, p.labels, p.valid_docs, 0, seed)
        texts, labels, is_valid = reviews.clas_inputs()
        data = clas_data(texts, labels, vocab=vocab, bs=p.bs, is_valid=is_valid, seed=seed)
        per_seed.append([fine_tune(ctx, data, encoder, ratio, seed, len(seeds) > 1) for ratio in ratios])
    return report(ctx, seeds, ratios, per_seed)


def fine_tune(ctx: LabContext, data, encoder: str, ratio: float, seed: int, label: bool) -> list[float]:
    p = ctx.p
    stage = ("ratio 1", "ratio 2.6", "large ratio")[(1.0, 2.6).index(ratio) if ratio in (1.0, 2.6) else 2]
    with ctx.stage(stage):
        ctx.reseed(seed)  # the same head initialisation for every ratio
        ctx.curve(f"ratio {ratio:g}" + (f" · seed {seed}" if label else ""))
        learn = classifier_with_encoder(ctx, data, encoder)
        learn.unfreeze()
        lr = ladder(p.lr, len(learn.layer_groups), ratio)
        fit_showing_groups(ctx, learn, p.epochs, lr, f"ratio {ratio:g}: ")
        return correct_per_example(learn)


def report(
    ctx: LabContext, seeds: list[int], ratios: tuple[float, ...], per_seed: list[list[list[float]]]
) -> dict[str, object]:
    names = choices(ctx)
    accuracies = [[sum(c) / len(c) for c in seed_runs] for seed_runs in per_seed]
    header, table = seed_table(seeds, [f"ratio {r:g}" for r in ratios], accuracies)
    ctx.table("validation accuracy after the same fine-tuning", header, table)
    means = [sum(col) / len(col) for col in zip(*accuracies)]
    best, second = sorted(range(len(ratios)), key=lambda i: means[i], reverse=True)[:2]
    # The claim: 2.6 against the better of the other two; the question: which ratio is best, if any.
    rival = max((0, 2), key=lambda i: means[i])
    claim = verdict_over_seeds(
        CLAIM,
        [acc[1] - acc[rival] for acc in accuracies],
        paired_noise(per_seed[0][1], per_seed[0][rival]),
    )
    lead = verdict_over_seeds(
        "best ratio",
        [acc[best] - acc[second] for acc in accuracies],
        paired_noise(per_seed[0][best], per_seed[0][second]),
    )
    ctx.text(explain(ratios, means, claim, len(seeds)), kind="explanation")
    result: dict[str, object] = {
        "accuracy_ratio_1": round(means[0], 4),
        "accuracy_ratio_2_6": round(means[1], 4),
        "accuracy_large_ratio": round(means[2], 4),
        "verdict": claim.to_dict(),
        "outcome": names[best] if lead.agrees else None,
    }
    if len(seeds) > 1:
        result["per_seed"] = [
            {"seed": s, **{f"ratio {r:g}": round(a, 4) for r, a in zip(ratios, acc)}}
            for s, acc in zip(seeds, accuracies)
        ]
    return result


def explain(ratios: tuple[float, ...], means: list[float], verdict, n_seeds: int) -> str:
    lesson = (
        "Ratio 1 moves the pretrained embedding as fast as the new head; a large ratio all but freezes the "
        "encoder. ULMFiT found 2.6 with an encoder pretrained on WikiText-103, whose features already "
        "separate the sentiment: lower layers that move less keep those features while the head learns."
    )
    where = f"over {n_seeds} seeds" if n_seeds > 1 else "on this seed (the noise is the validation set's)"
    measured = ", ".join(f"ratio {r:g}: {m:.1%}" for r, m in zip(ratios, means))
    gap = f"2.6 against the better of the others {where}: {verdict.effect:+.3f} ± {verdict.noise:.3f}"
    if verdict.agrees is None:
        return f"{lesson} Measured {measured}; {gap}, within the noise: no clear answer on this run."
    if verdict.agrees:
        return f"{lesson} Measured {measured}; {gap}: 2.6 wins, as the card says."
    return f"{lesson} Measured {measured}; {gap}: 2.6 does not win here."
