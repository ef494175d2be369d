"""Lab `ulmfit-classifier`: the fine-tuned encoder, the same vocabulary, gradual unfreezing.

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
"""

from __future__ import annotations

from engine.metrics import accuracy
from engine.text import TextClassifierLearner, clas_data, text_classifier_learner
from labs._ulmfit import (
    CHANCE_MARGIN,
    Corpora,
    config_of,
    fine_tune_lm,
    groups_table,
    ladder,
    load_corpora,
    pretrain,
)
from labs.context import LabContext

ALL_AT_ONCE_WINS = "yes, all at once wins"
GRADUAL_WINS = "no, gradual unfreezing wins or ties"
GRADUAL_EPOCHS = 5  # 1 + 1 + 1 + 2, as in the lesson


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        corpora = load_corpora(ctx.data, p.general_docs, p.review_docs, ctx.seed, p.real_docs)
        ctx.text(corpora.source)
        ctx.text(f"{corpora.texts[0]}  →  {corpora.labels[0]}", title="a labelled review")

    with ctx.stage("language model"):
        pretrain(ctx, corpora, p.lm_epochs, 1e-2, bptt=32)
        lm, _ = fine_tune_lm(ctx, corpora, p.lm_epochs, 1e-2, bptt=32)
        ctx.text(
            "save_encoder('fine_tuned_enc'): the encoder keeps what the language model learned; the decoder, "
            "which turns it back into words, is not needed for classifying.",
            kind="explanation",
        )
        data = clas_data(
            corpora.texts, corpora.labels, vocab=lm.vocab, bs=p.bs, is_valid=corpora.is_valid, seed=ctx.seed
        )
        ctx.text(own_vocabulary_error(corpora, ctx), title="why vocab=lm.vocab", kind="explanation")

    def classifier(name: str) -> TextClassifierLearner:
        ctx.reseed()
        ctx.curve(name)
        learn = text_classifier_learner(data, config=config_of(ctx), drop_mult=p.drop_mult, metrics=[accuracy],
                                        device=ctx.device, path=ctx.work_dir)  # fmt: skip
        learn.load_encoder("fine_tuned_enc")  # the vocabularies must match; it also freezes
        return ctx.watch(learn)

    learn = classifier("gradual unfreezing")
    n_groups = len(learn.layer_groups)
    # The lesson lowers the top rate at each stage (2e-2, 1e-2, 5e-3, 1e-3); on this small model the last
    # stages learn too slowly at those rates, so they keep half the head's rate.
    plan = (
        ("head only (freeze)", None, 1, p.lr),
        ("freeze_to(-2)", -2, 1, ladder(p.lr / 2, n_groups)),
        ("freeze_to(-3)", -3, 1, ladder(p.lr / 2, n_groups)),
        ("unfreeze()", 0, 2, ladder(p.lr / 2, n_groups)),
    )
    head_only = float("nan")
    for stage, freeze_to, epochs, lr in plan:
        with ctx.stage(stage):
            if freeze_to is not None:
                learn.freeze_to(freeze_to)
            ctx.table(f"{stage}: fit_one_cycle({epochs}, {describe(lr)})", ["layer group", "", "learning rate"],
                      groups_table(learn, lr))  # fmt: skip
            learn.fit_one_cycle(epochs, lr)
            if freeze_to is None:  # the head alone on the frozen encoder: what its features already hold
                head_only = float(learn.validate()["accuracy"])
    gradual = float(learn.validate()["accuracy"])
    result: dict[str, object] = {
        "head_only_accuracy": round(head_only, 4),
        "gradual_accuracy": round(gradual, 4),
    }

    if p.compare:
        with ctx.stage("all at once"):
            at_once = classifier("all at once")
            at_once.unfreeze()
            lr = ladder(p.lr / 2, n_groups)
            ctx.table(f"unfreeze(); fit_one_cycle({GRADUAL_EPOCHS}, {describe(lr)})", ["layer group", "", "learning rate"],
                      groups_table(at_once, lr))  # fmt: skip
            at_once.fit_one_cycle(GRADUAL_EPOCHS, lr)
            everything = float(at_once.validate()["accuracy"])
            ctx.table("validation accuracy, same number of epochs", ["schedule", "accuracy"],
                      [["gradual unfreezing", f"{gradual:.3f}"], ["all at once", f"{everything:.3f}"]])  # fmt: skip
            ctx.text(explain(head_only, gradual, everything), kind="explanation")
        result["all_at_once_accuracy"] = round(everything, 4)
        result["outcome"] = ALL_AT_ONCE_WINS if everything > gradual else GRADUAL_WINS

    with ctx.stage("predict"):
        if p.compare and everything > gradual:
            learn = at_once
            ctx.text("predicting with the all-at-once model, the more accurate one here", kind="explanation")
        ctx.text(describe_prediction(learn, p.sentence), title=f"predict({p.sentence!r})", kind="prediction")
        ctx.set_predictor(lambda text: describe_prediction(learn, text))
    return result


def explain(head_only: float, gradual: float, everything: float) -> str:
    """Why one schedule won, from the head-only accuracy: how much the frozen encoder's features hold."""
    why = (
        "Gradual unfreezing protects what the pretrained encoder knows from the large, noisy gradients of "
        "a new head, at the price of epochs in which the lower layers do not train."
    )
    if head_only < CHANCE_MARGIN:
        return (
            f"{why} Here the head alone, on the frozen encoder, reached {head_only:.0%}, about a coin toss: "
            "this small language model, trained for seconds, learned the grammar of the reviews but not to "
            "track their sentiment, so there is little to protect and the encoder must learn the sentiment "
            "from the labels; every epoch it spends frozen is lost"
            + (", which is why all at once wins here." if everything > gradual else ".")
            + " With a lesson-scale language model (the full preset, on a GPU) the frozen features already "
            "separate the reviews, and gradual unfreezing keeps them."
        )
    return (
        f"{why} Here the head alone, on the frozen encoder, reached {head_only:.0%}: the pretrained "
        "features hold part of the sentiment, worth protecting while the head learns."
    )


def own_vocabulary_error(corpora: Corpora, ctx: LabContext) -> str:
    """What load_encoder says when the classifier data was numericalised with a vocabulary of its own."""
    own = clas_data(
        corpora.texts, corpora.labels, bs=ctx.p.bs, is_valid=corpora.is_valid, seed=ctx.seed, min_freq=1
    )
    learn = text_classifier_learner(own, config=config_of(ctx), device=ctx.device, path=ctx.work_dir)
    try:
        learn.load_encoder("fine_tuned_enc")
    except ValueError as error:
        return f"Built with its own vocabulary, the classifier cannot use the encoder: {error}"
    return "This classifier data happens to have exactly the language model's vocabulary."


def describe(lr: float | slice) -> str:
    if isinstance(lr, slice):
        return f"slice({lr.start:.1e}, {lr.stop:.1e})"
    return f"{lr:g}"


def describe_prediction(learn: TextClassifierLearner, text: str) -> str:
    label, _, probs = learn.predict(text)
    return f"{label} (" + ", ".join(f"{c}: {float(p):.0%}" for c, p in zip(learn.dls.classes, probs)) + ")"
