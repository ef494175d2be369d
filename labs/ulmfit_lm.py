"""Lab `ulmfit-lm`: pretrain a language model on a general corpus, then fine-tune it on the reviews.

The lesson's notebook:

    data_lm = TextLMDataBunch.from_folder(path, ...)        # train, test AND unsup reviews: no labels needed
    learn = language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3)   # starts from the WikiText-103 model
    learn.fit_one_cycle(1, 1e-2)
    learn.unfreeze()
    learn.fit_one_cycle(10, 1e-3)
    learn.predict("I liked this movie because", 40, temperature=0.75)
    learn.save_encoder("fine_tuned_enc")
"""

from __future__ import annotations

from labs._ulmfit import fine_tune_lm, load_corpora, pretrain
from labs.context import LabContext

BARELY = "barely (less than 10%)"
CLEARLY = "clearly (10% or more)"


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        corpora = load_corpora(ctx.data, p.general_docs, p.review_docs, ctx.seed, p.real_docs)
        lm_texts, _ = corpora.lm_texts(p.use_all_text)
        ctx.text(corpora.source)
        ctx.text(corpora.general[0], title="a general document", kind="text")
        ctx.text(
            f"The review language model trains on {lm_texts.__len__() - sum(corpora.is_valid)} reviews"
            + (
                " (labelled, unlabelled and test texts alike: it needs no labels)"
                if p.use_all_text
                else " (labelled only)"
            )
            + f" and is checked on {sum(corpora.is_valid)} held-out reviews.",
            kind="explanation",
        )

    with ctx.stage("pretrain on the general corpus"):
        general = pretrain(ctx, corpora, p.pretrain_epochs, p.lr, p.bptt, p.drop_mult)
        ctx.text(
            general.predict(p.prompt, n_words=p.n_words, seed=ctx.seed),
            title="the general model says",
            kind="generated",
        )

    with ctx.stage("fine-tune on the reviews"):
        learn, before = fine_tune_lm(
            ctx, corpora, p.finetune_epochs, p.lr, p.bptt, p.use_all_text, p.drop_mult
        )
        after = learn.validate()
        ctx.table(
            "on held-out reviews",
            ["model", "accuracy (next word)", "perplexity"],
            [
                ["general model only", f"{before['accuracy']:.3f}", f"{before['perplexity']:.1f}"],
                ["fine-tuned on the reviews", f"{after['accuracy']:.3f}", f"{after['perplexity']:.1f}"],
            ],
        )
        ctx.artifact("fine-tuned encoder (save_encoder)", ctx.work_dir / "models" / "fine_tuned_enc.pth")

    with ctx.stage("generate"):
        for i in range(3):
            sentence = learn.predict(p.prompt, n_words=p.n_words, temperature=0.75, seed=ctx.seed + i)
            ctx.text(sentence, title=f"sample {i + 1}" if i == 0 else "", kind="generated")
        ctx.set_predictor(lambda text: learn.predict(text, n_words=p.n_words, temperature=0.75))

    drop = (before["perplexity"] - after["perplexity"]) / before["perplexity"]
    return {
        "perplexity_before": round(before["perplexity"], 2),
        "perplexity_after": round(after["perplexity"], 2),
        "accuracy_after": round(after["accuracy"], 4),
        "outcome": CLEARLY if drop >= 0.10 else BARELY,
    }
