"""Lab `ulmfit-lm`: start from the pretrained language model, fine-tune it on the reviews, save the encoder.

The lesson's notebook:

    data_lm = TextLMDataBunch.from_folder(path, ...)        # train, test AND unsup reviews: no labels needed
    learn = language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3)   # starts from the WikiText-103 model
    learn.fit_one_cycle(1, 1e-2)
    learn.unfreeze()
    learn.fit_one_cycle(10, 1e-3)
    learn.predict("I liked this movie because", 40, temperature=0.75)
    learn.save_encoder("fine_tuned_enc")

The pretrained model comes from the model store (made once, the first time a lab needs it), and
`fine_tuned_enc` goes back there for `ulmfit-classifier` and `discriminative-lr`. With `--data
wikitext-103` (or another WikiText folder) the lab first pretrains on it, as fastai did once, and stores
that model; the reviews are then the full preset's IMDb when it is fetched, else generated ones.
"""

from __future__ import annotations

from labs._evidence import paired_noise
from labs._ulmfit import fine_tune_lm, load_reviews, pretrain_on_wikitext, pretrained_lm, wikitext_folder
from labs.context import LabContext
from labs.verdict import judge, outcome_for

CLAIM = (
    "Fine-tuning the pretrained language model on the target corpus makes it predict held-out reviews "
    "better (lower loss per word)."
)


def _imdb_if_fetched(ctx: LabContext):
    """With WikiText as --data, the full preset's reviews are IMDb when it is fetched; else generated."""
    if ctx.preset != "full":
        return None
    try:
        return ctx.resolve_data(ctx.info.full_data or "imdb")
    except Exception:
        ctx.text("IMDb is not fetched (`cardlab data fetch imdb`): fine-tuning on generated reviews.")
        return None


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    corpus = wikitext_folder(ctx.data)
    with ctx.stage("data"):
        review_data = ctx.data if corpus is None else _imdb_if_fetched(ctx)
        n_docs = p.real_docs if review_data is not None else p.review_docs
        labelled = n_docs // 3
        reviews = load_reviews(review_data, labelled, p.valid_docs, n_docs - labelled, ctx.seed)
        train = reviews.train_texts + (reviews.lm_texts if p.use_all_text else [])
        ctx.text(reviews.source)
        ctx.text(
            f"The review language model trains on {len(train)} reviews"
            + (
                " (labelled and unlabelled alike: it needs no labels)"
                if p.use_all_text
                else " (labelled only)"
            )
            + f" and is checked on {len(reviews.valid_texts)} held-out reviews.",
            kind="explanation",
        )

    with ctx.stage("pretrained model"):
        start = pretrain_on_wikitext(ctx, corpus) if corpus is not None else pretrained_lm(ctx)
        ctx.text(f"starting from {start[1]}", kind="explanation")

    with ctx.stage("fine-tune on the reviews"):
        texts = train + reviews.valid_texts
        is_valid = [False] * len(train) + [True] * len(reviews.valid_texts)
        tuned = fine_tune_lm(ctx, texts, is_valid, p.finetune_epochs, p.lr, p.bptt, p.drop_mult, start=start)
        learn, before, after = tuned.learn, tuned.before, tuned.after
        ctx.table(
            "on held-out reviews",
            ["model", "accuracy (next word)", "perplexity"],
            [
                ["pretrained model only", f"{before['accuracy']:.3f}", f"{before['perplexity']:.1f}"],
                ["fine-tuned on the reviews", f"{after['accuracy']:.3f}", f"{after['perplexity']:.1f}"],
            ],
        )

    with ctx.stage("generate"):
        for i in range(3):
            sentence = learn.predict(p.prompt, n_words=p.n_words, temperature=0.75, seed=ctx.seed + i)
            ctx.text(sentence, title=f"sample {i + 1}" if i == 0 else "", kind="generated")
        ctx.set_predictor(lambda text: learn.predict(text, n_words=p.n_words, temperature=0.75))

    effect = sum(tuned.before_losses) / len(tuned.before_losses) - sum(tuned.after_losses) / len(
        tuned.after_losses
    )
    verdict = judge(CLAIM, effect, paired_noise(tuned.before_losses, tuned.after_losses))
    drop = (before["perplexity"] - after["perplexity"]) / before["perplexity"]
    ctx.text(
        f"Held-out loss per word fell by {verdict.effect:.3f} nats (perplexity {drop:.0%} lower); the "
        f"validation set's noise on that difference is {verdict.noise:.3f}: {verdict.word}.",
        kind="explanation",
    )
    barely, clearly = ctx.info.choices
    return {
        "perplexity_before": round(before["perplexity"], 2),
        "perplexity_after": round(after["perplexity"], 2),
        "accuracy_after": round(after["accuracy"], 4),
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, clearly if drop >= 0.10 else barely, barely),
    }
