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

from dataclasses import dataclass

from engine.text import TextClassifierLearner, clas_data, text_classifier_learner
from engine.text.vocab import Vocab
from labs._evidence import correct_per_example, paired_noise, verdict_over_seeds
from labs._ulmfit import (
    classifier_with_encoder,
    config_of,
    encoder_for,
    fit_showing_groups,
    ladder,
    load_reviews,
    seed_table,
)
from labs.context import LabContext
from labs.verdict import outcome_for

CLAIM = (
    "Gradual unfreezing (the head first, then one more layer group per stage) trains a better classifier "
    "from a pretrained encoder than unfreezing everything at once on the same budget."
)
GRADUAL_EPOCHS = 5  # 1 + 1 + 1 + 2, as in the lesson
# The head-alone probe measures the frozen features, not a schedule: it trains until it levels off (60
# labels, 10 seeds: 0.747 after 5 epochs, 0.761 after 10 on 5 seeds).
PROBE_EPOCHS = 10
# Top learning rates of the four stages, as fractions of `lr`: the lesson's 2e-2, 1e-2, 5e-3, 1e-3, or the
# labs' (the small model's later stages learn too slowly at the lesson's falling rates).
STAGE_RATES = {"lesson": (1.0, 0.5, 0.25, 0.05), "lab": (1.0, 0.5, 0.5, 0.5)}


@dataclass
class SeedResult:
    head_only: float
    gradual: float
    at_once: float | None
    noise: float  # the validation set's standard error of gradual - at_once
    learn: TextClassifierLearner


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        reviews = load_reviews(ctx.data, p.labels, p.valid_docs, p.review_docs, ctx.seed)
        ctx.text(reviews.source)
        ctx.text(f"{reviews.train_texts[0]}  →  {reviews.train_labels[0]}", title="a labelled review")

    with ctx.stage("encoder"):
        vocab, encoder = encoder_for(ctx, reviews, p.lm_epochs)
        ctx.text(
            "clas_data(..., vocab=data_lm.vocab): the classifier reads words with the language model's "
            "vocabulary, or the encoder's rows would belong to other words.",
            kind="explanation",
        )
        ctx.text(
            own_vocabulary_error(ctx, reviews, encoder), title="why vocab=data_lm.vocab", kind="explanation"
        )

    seeds = list(range(ctx.seed, ctx.seed + p.seeds))
    results = [train_seed(ctx, reviews, vocab, encoder, seed, len(seeds) > 1) for seed in seeds]
    return report(ctx, seeds, results)


def train_seed(ctx: LabContext, reviews, vocab: Vocab, encoder: str, seed: int, label: bool) -> SeedResult:
    """Gradual unfreezing, then (with `compare`) all at once, from the same encoder and head init."""
    p = ctx.p
    if seed != ctx.seed:  # another sample of labelled reviews for each further seed
        reviews = load_reviews(None, p.labels, p.valid_docs, 0, seed) if ctx.data is None else reviews
    texts, labels, is_valid = reviews.clas_inputs()
    data = clas_data(texts, labels, vocab=vocab, bs=p.bs, is_valid=is_valid, seed=seed)
    suffix = f" · seed {seed}" if label else ""

    def classifier(name: str) -> TextClassifierLearner:
        ctx.reseed(seed)
        ctx.curve(name + suffix)
        return classifier_with_encoder(ctx, data, encoder)

    rates = STAGE_RATES[p.schedule]
    with ctx.stage("head alone"):  # what the frozen encoder's features hold: a head trained to a plateau
        probe = classifier("head alone, encoder frozen")
        probe.fit_one_cycle(PROBE_EPOCHS, p.lr * rates[0])
        head_only = float(probe.validate()["accuracy"])
    learn = classifier("gradual unfreezing")
    n_groups = len(learn.layer_groups)
    plan = (
        ("head only (freeze)", None, 1, p.lr * rates[0]),
        ("freeze_to(-2)", -2, 1, ladder(p.lr * rates[1], n_groups)),
        ("freeze_to(-3)", -3, 1, ladder(p.lr * rates[2], n_groups)),
        ("unfreeze()", 0, 2, ladder(p.lr * rates[3], n_groups)),
    )
    for stage, freeze_to, epochs, lr in plan:
        with ctx.stage(stage):
            if freeze_to is not None:
                learn.freeze_to(freeze_to)
            fit_showing_groups(ctx, learn, epochs, lr, f"{stage}: ", suffix)
    gradual_correct = correct_per_example(learn)
    gradual = sum(gradual_correct) / len(gradual_correct)
    if not p.compare:
        return SeedResult(head_only, gradual, None, float("inf"), learn)
    with ctx.stage("all at once"):
        at_once = classifier("all at once")
        at_once.unfreeze()
        lr = ladder(p.lr * rates[3], n_groups)
        fit_showing_groups(ctx, at_once, GRADUAL_EPOCHS, lr, "unfreeze(); ", suffix)
        at_once_correct = correct_per_example(at_once)
    everything = sum(at_once_correct) / len(at_once_correct)
    best = at_once if everything > gradual else learn
    return SeedResult(head_only, gradual, everything, paired_noise(gradual_correct, at_once_correct), best)


def report(ctx: LabContext, seeds: list[int], results: list[SeedResult]) -> dict[str, object]:
    p = ctx.p
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    head_only = mean([r.head_only for r in results])
    gradual = mean([r.gradual for r in results])
    result: dict[str, object] = {
        "head_only_accuracy": round(head_only, 4),
        "gradual_accuracy": round(gradual, 4),
    }
    columns = ["head alone (frozen encoder)", "gradual unfreezing"] + (["all at once"] if p.compare else [])
    rows = [[r.head_only, r.gradual] + ([_measured(r.at_once)] if p.compare else []) for r in results]
    header, table = seed_table(seeds, columns, rows)
    ctx.table("validation accuracy, same number of epochs", header, table)
    if p.compare:
        effects = [r.gradual - _measured(r.at_once) for r in results]
        verdict = verdict_over_seeds(CLAIM, effects, results[0].noise)
        result["all_at_once_accuracy"] = round(mean([_measured(r.at_once) for r in results]), 4)
        result["per_seed"] = [
            {"seed": s, **dict(zip(columns, map(lambda v: round(v, 4), row)))} for s, row in zip(seeds, rows)
        ]
        result["verdict"] = verdict.to_dict()
        all_at_once_wins, gradual_wins = ctx.info.choices
        result["outcome"] = outcome_for(verdict, gradual_wins, all_at_once_wins)
        ctx.text(explain(head_only, verdict, len(seeds), p.labels), kind="explanation")

    with ctx.stage("predict"):
        learn = max(results, key=lambda r: max(r.gradual, r.at_once or 0)).learn
        ctx.text(describe_prediction(learn, p.sentence), title=f"predict({p.sentence!r})", kind="prediction")
        ctx.set_predictor(lambda text: describe_prediction(learn, text))
    return result


def explain(head_only: float, verdict, n_seeds: int, labels: int) -> str:
    """What the run measured, against the conditions under which the lesson's claim holds."""
    why = (
        "Gradual unfreezing protects what a strong pretrained encoder knows from the large, noisy gradients "
        "of a new head; it matters when such an encoder meets a small labelled set, and the effect shrinks as "
        "the labelled set grows (try the labels parameter)."
    )
    holds = f"Here the head alone, on the frozen encoder, reached {head_only:.0%}: the pretrained features hold the sentiment."
    if head_only < 0.6:
        holds = f"Here the head alone, on the frozen encoder, reached {head_only:.0%}, near a coin toss: little to protect."
    where = f"over {n_seeds} seeds" if n_seeds > 1 else "on this seed (the noise is the validation set's)"
    measured = f"Gradual minus all at once, with {labels} labelled reviews {where}: {verdict.effect:+.3f} ± {verdict.noise:.3f}"
    if verdict.agrees is None:
        return f"{why} {holds} {measured}: within the noise, so this run gives no clear answer."
    if verdict.agrees:
        return f"{why} {holds} {measured}: gradual unfreezing wins, as the card says."
    return (
        f"{why} {holds} {measured}: all at once wins on this small model, which adapts its lower layers to the "
        "labels faster than it forgets; the card's claim does not show here."
    )


def own_vocabulary_error(ctx: LabContext, reviews, encoder: str) -> str:
    """What load_encoder says when the classifier data was numericalised with a vocabulary of its own."""
    texts, labels, is_valid = reviews.clas_inputs()
    own = clas_data(texts, labels, bs=ctx.p.bs, is_valid=is_valid, seed=ctx.seed, min_freq=1)
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


def _measured(accuracy: float | None) -> float:
    """An accuracy the run measured (all at once is trained only when `compare` is on)."""
    if accuracy is None:
        raise ValueError("all-at-once accuracy asked for, but this run did not train it (compare off)")
    return accuracy
