"""Lab `ulmfit-lm`: why *pre*training helps, and the language-model trick, measured over seeds.

The lesson's notebook:

    data_lm = TextLMDataBunch.from_folder(path, ...)        # train, test AND unsup reviews: no labels needed
    learn = language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3)   # starts from the WikiText-103 model
    learn.fit_one_cycle(1, 1e-2)
    learn.unfreeze()
    learn.fit_one_cycle(10, 1e-3)
    learn.predict("I liked this movie because", 40, temperature=0.75)
    learn.save_encoder("fine_tuned_enc")

The protocol (docs/labs.md): one split for the whole run, from the data's
own train/test flags. Training reviews: `lm_docs` for the language models (and, with their labels, for
the classifier head), `tune_docs` to pick learning rates. Test reviews: `test_docs` whose text the "all
text" arms add (the trick), `valid_docs` that no model trains on. Arms, every one the same AWD-LSTM:

    pretrained + fine-tuned   the store's general LM, fine-tuned on train + test text (the lesson's recipe)
    from scratch              the same architecture on the same text, same epochs
    train text only           the pretrained LM fine-tuned on the training text only, same optimizer steps

Each kind (pretrained recipe, from scratch) picks its learning rate from the same grid on the first seed,
by the tuning split's loss; the chosen rates serve every seed. Verdicts: pretrained vs scratch on the
held-out loss per word (same vocabulary: a fair comparison); train + test vs train-only text on the
accuracy of a logistic-regression head on the frozen encoder, on the test reviews.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.text import LMLearner, TextDataLoaders, lm_data
from engine.text.vocab import Vocab
from engine.utils import load_state_bytes, state_bytes
from labs._experiment import SPLIT_SEED, SeedResults, pick_best
from labs._pretraining import pretrain_on_wikitext, pretrained_lm, wikitext_folder
from labs._review_lm import (
    encoder_features,
    fit_lm_recipe,
    lm_scores,
    lm_text_loader,
    load_split,
    pretrained_vocab,
    probe_correct,
    review_effects,
    save_fine_tuned,
)
from labs._ulmfit import store_of, watched_lm_learner
from labs.context import LabContext
from labs.verdict import Verdict, outcome_for, paired_noise

CLAIM = (
    "A language model pretrained on general text and fine-tuned on the reviews predicts held-out reviews "
    "better (lower loss per word) than the same model trained on the reviews from scratch, on the same "
    "budget and learning-rate procedure."
)
TRICK_CLAIM = (
    "Fine-tuning the language model on the training and the test reviews' text (no labels) gives an "
    "encoder whose classifier head is more accurate on those test reviews than one fine-tuned on the "
    "training text only."
)
TRICK_METRIC = "classifier-head accuracy on the test reviews"
PRETRAINED, SCRATCH = "pretrained + fine-tuned", "from scratch"
ALL_TEXT, TRAIN_ONLY = "train + test text", "train text only"


def both_noises(by_seed: Verdict, by_review: Verdict) -> Verdict:
    """The trick's verdict: the seeds' test (training noise, on these test reviews) and the reviews' test
    (the test set's noise, the models fixed) must both reach it, in the same direction; else inconclusive.
    The reported numbers are the reviews' test's, the larger noise with a few dozen test reviews."""
    agrees = by_seed.agrees if by_seed.agrees == by_review.agrees else None
    rule = (
        f"{by_seed.rule}; and over the test reviews: {by_review.rule.replace(' seeds', ' test reviews')}; "
        "both must give the verdict"
    )
    return replace(by_review, agrees=agrees, seeds=by_seed.seeds, rule=rule)


def _imdb_if_fetched(ctx: LabContext) -> Path | None:
    """With WikiText as --data, the full preset's reviews are IMDb when it is fetched; else generated."""
    if ctx.preset != "full":
        return None
    try:
        return ctx.resolve_data(ctx.info.full_data or "imdb")
    except Exception:
        ctx.text("IMDb is not fetched (`cardlab data fetch imdb`): fine-tuning on generated reviews.")
        return None


def _grid(text: str) -> list[float]:
    return [float(part) for part in str(text).split(",") if part.strip()]


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    corpus = wikitext_folder(ctx.data)
    with ctx.stage("data"):
        review_data = ctx.data if corpus is None else _imdb_if_fetched(ctx)
        split, source = load_split(review_data, p.lm_docs, p.tune_docs, p.test_docs, p.valid_docs, SPLIT_SEED)
        all_text = split.lm_texts + split.test_texts
        n_reviews = len(all_text) + len(split.tune_texts) + len(split.valid_texts)
        if review_data is None:
            ctx.data = None  # the reviews are generated (a WikiText --data only pretrains)
        ctx.report_data(
            n_reviews,
            unit="reviews",
            generator=(
                "movie reviews from the lab's review generator (opinions about a film's parts, plain, negated "
                "or contrasted); the pretraining corpus never uses it"
            ),
        )
        ctx.text(
            f"{source}: {len(split.lm_texts)} training reviews (language-model text, and labelled for the "
            f"classifier head), {len(split.tune_texts)} to tune the learning rates; {len(split.test_texts)} "
            f"test reviews whose text the 'all text' arms add, {len(split.valid_texts)} test reviews no "
            "model trains on.",
            kind="explanation",
        )

    with ctx.stage("pretrained model"):
        start, described = pretrain_on_wikitext(ctx, corpus) if corpus is not None else pretrained_lm(ctx)
        ctx.text(f"starting from {described}", kind="explanation")

    def data_for(texts: list[str], seed: int, vocab: Vocab | None = None) -> TextDataLoaders:
        flags = [False] * len(texts) + [True] * len(split.tune_texts)
        return lm_data(texts + split.tune_texts, bs=p.bs, bptt=p.bptt, is_valid=flags, seed=seed, vocab=vocab)

    first = ctx.seeds[0]
    all_data = data_for(all_text, first)
    vocab = all_data.vocab
    train_data = data_for(split.lm_texts, first)
    held_loader = lm_text_loader(vocab, split.valid_texts, p.bs, p.bptt)

    def learner(data: TextDataLoaders, pretrained: bool) -> LMLearner:
        return watched_lm_learner(ctx, data, p.drop_mult, pretrained=start if pretrained else None)

    before_learn = learner(all_data, pretrained=True)
    covered = set(pretrained_vocab(before_learn, start)) & set(vocab.itos)
    before = lm_scores(before_learn, held_loader, covered)

    grid = _grid(p.lrs)
    tuned: dict[str, float] = {}
    with ctx.stage("tune the learning rates"):

        def tuning_fit(choice: tuple[str, float]) -> tuple[float, bytes]:
            kind, lr = choice
            ctx.curve(f"{kind}, lr {lr:g} (tuning, seed {first})")
            ctx.reseed(first)
            # data of its own: a shared loader's shuffling would go on from the fit before, so each rate
            # would see the reviews in another order
            learn = learner(data_for(all_text, first, vocab), kind == PRETRAINED)
            fit_lm_recipe(learn, p.finetune_epochs, lr, kind == PRETRAINED)
            return float(learn.validate()["valid_loss"]), state_bytes(learn.model)

        choices = [(kind, lr) for kind in (PRETRAINED, SCRATCH) for lr in grid]
        tuning_runs = dict(zip(choices, ctx.run_all(tuning_fit, choices)))
        grid_rows = []
        first_models: dict[str, LMLearner] = {}  # each kind's tuning run at its picked rate: the first seed's
        for kind in (PRETRAINED, SCRATCH):
            losses = {lr: tuning_runs[kind, lr][0] for lr in grid}
            tuned[kind], grid_scores = pick_best(grid, losses.__getitem__)
            grid_rows.append([kind, *(f"{grid_scores[lr]:.3f}" for lr in grid), f"{tuned[kind]:g}"])
            first_models[kind] = learner(all_data, kind == PRETRAINED)
            load_state_bytes(first_models[kind].model, tuning_runs[kind, tuned[kind]][1])
        ctx.table(
            f"tuning-split loss per word after {p.finetune_epochs} epochs (seed {first})",
            ["arm", *(f"lr {lr:g}" for lr in grid), "picked"],
            grid_rows,
        )

    lm_results = SeedResults("held-out loss per word", higher_is_better=False)
    trick = SeedResults("classifier-head accuracy on the test reviews", higher_is_better=True)
    covered_rows: list[list[str]] = []
    steps_all = len(all_data.train) * p.finetune_epochs
    epochs_train_only = max(
        1, round(p.finetune_epochs * all_data.train.tokens_per_epoch / train_data.train.tokens_per_epoch)
    )
    per_review: dict[str, list[list[float]]] = {}  # each seed's right/wrong per test review, per arm

    def measured(arm: str, learn: LMLearner) -> dict[str, Any]:
        """The held-out scores of a pretrained or scratch model; the classifier head's right/wrong per test
        review on the encoder of an all-text or train-only model."""
        outcome: dict[str, Any] = {}
        if arm != TRAIN_ONLY:
            outcome["scores"] = lm_scores(learn, held_loader, covered)
        if arm != SCRATCH:
            train_x = encoder_features(learn, split.lm_texts)
            test_x = encoder_features(learn, split.test_texts)
            outcome["correct"] = probe_correct(train_x, split.lm_labels, test_x, split.test_labels)
        return outcome

    def seed_fit(job: tuple[int, str]) -> dict[str, Any]:
        seed, arm = job
        ctx.curve(arm, seed=seed)
        ctx.reseed(seed)
        if arm == TRAIN_ONLY:  # as many optimizer steps as the all-text arm, on less text
            learn = learner(data_for(split.lm_texts, seed, train_data.vocab), True)
            fit_lm_recipe(learn, epochs_train_only, tuned[PRETRAINED], True)
        else:
            learn = learner(data_for(all_text, seed, vocab), arm == PRETRAINED)
            fit_lm_recipe(learn, p.finetune_epochs, tuned[arm], arm == PRETRAINED)
        return measured(arm, learn)

    with ctx.stage("arms over seeds"):
        # the first seed's tuned models are measured here first: the head's L-BFGS imports torch's compiler
        # once, before any helper process forks
        outcomes = {(first, kind): measured(kind, model) for kind, model in first_models.items()}
        jobs = [
            (seed, arm)
            for seed in ctx.seeds
            for arm in (PRETRAINED, SCRATCH, TRAIN_ONLY)
            if (seed, arm) not in outcomes
        ]
        outcomes.update(zip(jobs, ctx.run_all(seed_fit, jobs)))
        for seed in ctx.seeds:
            for kind in (PRETRAINED, SCRATCH):
                scores = outcomes[seed, kind]["scores"]
                lm_results.add(kind, scores["loss"])
                covered_rows.append(
                    [
                        str(seed),
                        kind,
                        f"{scores['loss']:.3f}",
                        f"{scores['perplexity']:.1f}",
                        f"{scores.get('covered_perplexity', float('nan')):.1f}",
                        f"{scores['accuracy']:.3f}",
                    ]
                )
            for kind, arm in ((ALL_TEXT, PRETRAINED), (TRAIN_ONLY, TRAIN_ONLY)):
                correct = outcomes[seed, arm]["correct"]
                per_review.setdefault(kind, []).append(correct)
                trick.add(kind, sum(correct) / len(correct))
        keep = first_models[PRETRAINED]
        columns, rows = lm_results.table(ctx.seeds)
        ctx.table("held-out loss per word (test reviews no model trained on)", columns, rows)
        ctx.table(
            f"on the held-out reviews; 'covered' = the {before.get('covered_share', 0):.0%} of their tokens "
            "whose word the pretrained vocabulary knows",
            ["seed", "model", "loss", "perplexity", "perplexity (covered words)", "next-word accuracy"],
            [
                [
                    "—",
                    "pretrained, before fine-tuning",
                    f"{before['loss']:.3f}",
                    f"{before['perplexity']:.1f}",
                    f"{before.get('covered_perplexity', float('nan')):.1f}",
                    f"{before['accuracy']:.3f}",
                ],
                *covered_rows,
            ],
        )
        columns, rows = trick.table(ctx.seeds)
        ctx.table(
            f"classifier head on the frozen encoder: accuracy on the {len(split.test_texts)} test reviews "
            f"(train + test text: {steps_all} steps; train text only: {epochs_train_only} epochs, "
            f"{len(train_data.train) * epochs_train_only} steps)",
            columns,
            rows,
        )

    entry = save_fine_tuned(ctx, keep, f"{len(all_text)} reviews (train + test text)", str(start))
    ctx.artifact(f"save_encoder('{entry.name}') in the model store", store_of(ctx).weights_path(entry.name))

    with ctx.stage("generate"):
        for i in range(3):
            sentence = keep.predict(p.prompt, n_words=p.n_words, temperature=0.75, seed=ctx.seed + i)
            ctx.text(sentence, title=f"sample {i + 1}" if i == 0 else "", kind="generated")
        ctx.set_predictor(lambda text: keep.predict(text, n_words=p.n_words, temperature=0.75))

    # The claim is about test reviews: with a few dozen of them their own sampling noise matters as much
    # as the seeds'. `both_noises` below asks both tests (over seeds, over reviews) for the verdict.
    effects = review_effects(per_review[ALL_TEXT], per_review[TRAIN_ONLY])
    test_noise = paired_noise(per_review[ALL_TEXT][0], per_review[TRAIN_ONLY][0])
    ctx.text(
        f"The trick's test set is {len(split.test_texts)} reviews: one review is "
        f"{1 / len(split.test_texts):.3f} of accuracy. Two sources of noise: the training (seeds) and the "
        f"choice of test reviews (paired standard error over the reviews on seed {first}: {test_noise:.3f}). "
        "The trick's verdict needs the effect to clear both: a paired t-test over the seeds and one over "
        "the test reviews (each review's right/wrong averaged over the seeds) must give the same answer.",
        kind="explanation",
    )
    verdict = ctx.judge(
        CLAIM, lm_results.differences(PRETRAINED, SCRATCH), metric="held-out loss per word (nats)"
    )
    trick_verdict = both_noises(
        ctx.judge(TRICK_CLAIM, trick.differences(ALL_TEXT, TRAIN_ONLY), metric=TRICK_METRIC),
        ctx.judge(TRICK_CLAIM, effects, metric=f"{TRICK_METRIC} (unit: the {len(effects)} test reviews)"),
    )
    ctx.text(
        f"Pretraining: {verdict.word} (effect {verdict.effect:+.3f} nats per word, threshold "
        f"{verdict.threshold:.3f}, this run could detect about {verdict.min_detectable_effect:.3f}). "
        f"The trick: {trick_verdict.word} (effect {trick_verdict.effect:+.3f} accuracy, threshold "
        f"{trick_verdict.threshold:.3f}, detectable about {trick_verdict.min_detectable_effect:.3f}).",
        kind="explanation",
    )
    scratch_wins, pretrained_wins = ctx.info.choices
    return {
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, pretrained_wins, scratch_wins),
        "trick_verdict": trick_verdict.to_dict(),
        "lrs": tuned,
        "held_out_loss": {arm: round(lm_results.mean(arm), 4) for arm in lm_results.by_arm},
        "head_accuracy": {arm: round(trick.mean(arm), 4) for arm in trick.by_arm},
        "perplexity_before": round(before["perplexity"], 2),
        "covered_perplexity_before": round(before.get("covered_perplexity", float("nan")), 2),
        "covered_share": round(before.get("covered_share", 0.0), 4),
        "trick_test_set_noise": round(test_noise, 4),
    }
