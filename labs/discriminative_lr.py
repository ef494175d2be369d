"""Lab `discriminative-lr`: the same fine-tuning with a ratio of 1, 2.6 and a large one between groups.

The lesson's notebook:

    learn.fit_one_cycle(1, slice(1e-2 / (2.6**4), 1e-2))   # each group's lr is 2.6x below the next one's

2.6 comes from ULMFiT (Howard and Ruder): found by trying, as one would tune any hyperparameter.
"""

from __future__ import annotations

from engine.metrics import accuracy
from engine.text import clas_data, text_classifier_learner
from labs._ulmfit import config_of, fine_tune_lm, groups_table, ladder, load_corpora, pretrain
from labs.context import LabContext

CHOICES = ("1 (one learning rate)", "2.6", "the large ratio")


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        corpora = load_corpora(ctx.data, p.general_docs, p.review_docs, ctx.seed)
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
    ctx.text(
        "Ratio 1 moves the pretrained embedding as fast as the new head; a large ratio all but freezes the "
        "encoder. Which wins depends on how much the encoder must change: after a short language-model "
        "training (the small presets) it has a lot to learn, while a well-trained one (the lesson's) holds "
        "general features worth keeping, which is where ULMFiT found 2.6.",
        kind="explanation",
    )
    return {
        "accuracy_ratio_1": round(accuracies[CHOICES[0]], 4),
        "accuracy_ratio_2_6": round(accuracies[CHOICES[1]], 4),
        "accuracy_large_ratio": round(accuracies[CHOICES[2]], 4),
        "outcome": best,
    }
