"""Lab `discriminative-lr`: the same fine-tuning with a ratio of 1, 2.6 and a large one between groups.

The lesson's notebook:

    learn.fit_one_cycle(1, slice(1e-2 / (2.6**4), 1e-2))   # each group's lr is 2.6x below the next one's

2.6 comes from ULMFiT (Howard and Ruder): found by trying, as one would tune any hyperparameter.

On the generated data at the small presets ratio 1 wins: a language model trained for seconds does not learn
to track sentiment (the nearly frozen encoder, the large ratio, stays near 50%), so the lower layers must
learn it from the labels. The lesson's 2.6 needs an encoder whose features already hold the sentiment.
"""

from __future__ import annotations

from engine.metrics import accuracy
from engine.text import clas_data, text_classifier_learner
from labs._ulmfit import CHANCE_MARGIN, config_of, fine_tune_lm, groups_table, ladder, load_corpora, pretrain
from labs.context import LabContext

CHOICES = ("1 (one learning rate)", "2.6", "the large ratio")


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        corpora = load_corpora(ctx.data, p.general_docs, p.review_docs, ctx.seed, p.real_docs)
        ctx.text(corpora.source)

    with ctx.stage("language model"):
        pretrain(ctx, corpora, p.lm_epochs, 1e-2, bptt=32)
        lm, _ = fine_tune_lm(ctx, corpora, p.lm_epochs, 1e-2, bptt=32)
        data = clas_data(
            corpora.texts, corpora.labels, vocab=lm.vocab, bs=p.bs, is_valid=corpora.is_valid, seed=ctx.seed
        )

    accuracies: dict[str, float] = {}
    losses: dict[str, float] = {}
    for stage, ratio, choice in (
        ("ratio 1", 1.0, CHOICES[0]),
        ("ratio 2.6", 2.6, CHOICES[1]),
        ("large ratio", p.large_ratio, CHOICES[2]),
    ):
        with ctx.stage(stage):
            ctx.reseed()  # the same head initialisation for every ratio
            ctx.curve(f"ratio {ratio:g}")
            learn = text_classifier_learner(data, config=config_of(ctx), drop_mult=p.drop_mult, metrics=[accuracy],
                                            device=ctx.device, path=ctx.work_dir)  # fmt: skip
            learn.load_encoder("fine_tuned_enc")
            ctx.watch(learn)
            learn.unfreeze()
            lr = ladder(p.lr, len(learn.layer_groups), ratio)
            ctx.table(f"ratio {ratio:g}: fit_one_cycle({p.epochs}, slice({lr.start:.1e}, {lr.stop:.1e}))",
                      ["layer group", "", "learning rate"], groups_table(learn, lr))  # fmt: skip
            learn.fit_one_cycle(p.epochs, lr)
            metrics = learn.validate()
            accuracies[choice] = float(metrics["accuracy"])
            losses[choice] = float(metrics["valid_loss"])

    # Accuracy first; equal accuracies (all 100% on easy data, say) are told apart by the validation loss.
    best = max(accuracies, key=lambda choice: (accuracies[choice], -losses[choice]))
    ctx.table(
        "validation after the same fine-tuning",
        ["ratio between groups", "accuracy", "valid loss"],
        [[choice, f"{accuracies[choice]:.3f}", f"{losses[choice]:.4f}"] for choice in accuracies],
    )
    ctx.text(explain(accuracies), kind="explanation")
    return {
        "accuracy_ratio_1": round(accuracies[CHOICES[0]], 4),
        "accuracy_ratio_2_6": round(accuracies[CHOICES[1]], 4),
        "accuracy_large_ratio": round(accuracies[CHOICES[2]], 4),
        "outcome": best,
    }


def explain(accuracies: dict[str, float]) -> str:
    """What the three runs say about the encoder; the large ratio all but freezes it, so its accuracy
    measures how much of the sentiment the pretrained features already hold."""
    frozen_like = accuracies[CHOICES[2]]
    lesson = (
        "Ratio 1 moves the pretrained embedding as fast as the new head; a large ratio all but freezes the "
        "encoder. ULMFiT found 2.6 with an encoder pretrained on WikiText-103, whose features already "
        "separate the sentiment: there, lower layers that move less keep those features, and one big rate "
        "for every group disturbs them."
    )
    if frozen_like < CHANCE_MARGIN:
        return (
            f"{lesson} Here the nearly frozen encoder (the large ratio) reached {frozen_like:.0%}, about a "
            "coin toss: this small language model, trained for seconds, learned the grammar of the reviews "
            "but not to track their sentiment, so the classifier has to learn it from the labels, in the "
            "lower layers too, and the larger their rates the faster it does. With a lesson-scale language "
            "model (the full preset, on a GPU) the encoder has features worth keeping."
        )
    return (
        f"{lesson} Here the nearly frozen encoder (the large ratio) reached {frozen_like:.0%}: its "
        "pretrained features carry part of the sentiment, so how much the lower layers should move is a "
        "trade-off between keeping them and adapting them."
    )
