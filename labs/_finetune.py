"""Classifier fine-tuning as an experiment (ulmfit-classifier, discriminative-lr): the protocol's shape.

- one split for the whole run (`load_split`): labelled training reviews, a tuning split any arm may use to
  choose its top learning rate, and a held-out split only the verdict sees. On IMDB_SAMPLE the held-out
  reviews are the file's own validation rows (`is_valid`); tuning and training reviews come from the rest.
  Seeds change the head's initialisation, dropout and the data order, never the split.
- an arm (`Arm`) is a fine-tuning recipe: its stages (which layer groups train, for how many epochs, at
  which fraction of the top rate) and the ratio between consecutive groups' rates (1: one rate for all).
  Every arm of a lab trains the same number of epochs over the same reviews, so the same number of steps.
- every arm's top rate is picked by `tune_arms` from the same grid, scored on the tuning split on the
  run's first seed; the run made at the chosen rate is that seed's verdict run (it is the same run).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.datasets.text import generate_review_corpus, read_imdb_csv, read_imdb_folder
from engine.text import TextClassifierLearner, TextDataLoaders
from engine.text.data import SortedPadLoader
from engine.text.tokenizer import Tokenizer
from engine.text.vocab import Vocab
from engine.utils import load_state_bytes, state_bytes
from labs._experiment import SPLIT_SEED, SeedResults, pick_best, three_way_split
from labs._review_lm import encoder_for
from labs._ulmfit import (
    Reviews,
    classifier_with_encoder,
    describe_lr,
    group_names,
    ladder,
    vocab_coverage,
)
from labs.context import LabContext

# A stored encoder is reused when its vocabulary knows the reviews' words within this share of what the
# vocabulary of one fine-tuned here would know. A fixed share did not fit every corpus: measured on
# IMDB_SAMPLE's quick split, an encoder fine-tuned on the whole reviews knows 93 % of the words, one on the
# reviews cut to 100 words 89 % (so a fixed 90 % made every run fine-tune again), ulmfit-lm's 80 %.
REUSE_MARGIN = 0.02
CHANCE_MARGIN = 0.10  # an arm this little above the majority-class rate has barely learned the task
_UNLABELLED_SEED = 10_000  # generated reviews without labels (for the review LM) come from another stream


def parse_grid(text: str) -> tuple[float, ...]:
    """`"0.005,0.015,0.045"` -> the learning-rate grid every arm is tuned on."""
    values = tuple(float(part) for part in text.split(",") if part.strip())
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"a learning-rate grid needs positive numbers, got {text!r}")
    return values


def truncate(text: str, max_words: int) -> str:
    """The review's first `max_words` words (0: the whole review)."""
    return " ".join(text.split()[:max_words]) if max_words else text


# ---- the split ---------------------------------------------------------------------------------------------


@dataclass
class ClasSplit:
    """Labelled reviews in three parts, plus texts without labels for the review language model."""

    train: tuple[list[str], list[str]]
    tune: tuple[list[str], list[str]]
    holdout: tuple[list[str], list[str]]
    lm_texts: list[str]
    source: str

    @property
    def rows(self) -> int:
        return len(self.train[0]) + len(self.tune[0]) + len(self.holdout[0])

    def reviews(self) -> Reviews:
        """What `encoder_for` reads: its vocab must cover every labelled review; the held-out reviews are
        only the review LM's validation texts, never trained on."""
        return Reviews(
            self.train[0] + self.tune[0],
            self.train[1] + self.tune[1],
            self.holdout[0],
            self.holdout[1],
            self.lm_texts,
            self.source,
        )

    def sizes(self) -> str:
        return (
            f"{len(self.train[0])} labelled training reviews, {len(self.tune[0])} tuning reviews, "
            f"{len(self.holdout[0])} held-out reviews"
        )


def load_split(
    data: Path | None, labels: int, tune_docs: int, holdout_docs: int, lm_docs: int, max_words: int
) -> ClasSplit:
    """Real reviews from `data` (IMDB_SAMPLE's texts.csv or its folder, or an aclImdb folder), else
    generated ones. Every review, labelled or the review LM's, is cut to its first `max_words` words: the
    review LM then learns the text the classifier will read (the target task's text, as ULMFiT fine-tunes
    on), and spends no steps on words past the cut."""
    if data is None:
        texts, tags = generate_review_corpus(labels + tune_docs + holdout_docs, seed=SPLIT_SEED + 1)
        unlabelled = generate_review_corpus(lm_docs, seed=_UNLABELLED_SEED)[0] if lm_docs else []
        a, b = labels, labels + tune_docs
        parts = [(texts[i:j], tags[i:j]) for i, j in ((0, a), (a, b), (b, len(texts)))]
        source = "generated reviews (engine.datasets.text.generate_review_corpus)"
        lm_texts = unlabelled + texts[:b]
    else:
        reviews = (
            read_imdb_folder(data)
            if data.is_dir() and not (data / "texts.csv").is_file()
            else read_imdb_csv(data)
        )
        pool = [i for i, v in enumerate(reviews.is_valid) if not v]
        held = [i for i, v in enumerate(reviews.is_valid) if v]
        if not held or not pool:  # no split in the file: hold out a fifth, as the protocol's helper does
            train_i, tune_i, held_i = three_way_split(len(reviews.texts), 0.2, 0.2, SPLIT_SEED)
            pool, held = tune_i + train_i, held_i
        rng = random.Random(SPLIT_SEED)
        rng.shuffle(pool)
        rng.shuffle(held)
        n_tune = max(1, min(tune_docs, len(pool) // 3))
        chosen = {
            "train": pool[n_tune : n_tune + labels],
            "tune": pool[:n_tune],
            "holdout": held[:holdout_docs],
        }
        parts = [
            ([reviews.texts[i] for i in rows], [reviews.labels[i] for i in rows]) for rows in chosen.values()
        ]
        lm_texts = [reviews.texts[i] for i in pool[: max(lm_docs, n_tune + labels)]]
        source = f"IMDb reviews from {data}: the file's validation rows are the held-out split"
    cut = [([truncate(t, max_words) for t in texts], tags) for texts, tags in parts]
    return ClasSplit(cut[0], cut[1], cut[2], [truncate(t, max_words) for t in lm_texts], source)


def load_reported_split(ctx: LabContext, favours_none_of: str) -> ClasSplit:
    """The classifier labs' data stage: the split from the lab's parameters, said as the data used (the
    generator favours no `favours_none_of`) and as one line of sizes."""
    p = ctx.p
    split = load_split(ctx.data, p.labels, p.tune_docs, p.holdout_docs, p.review_docs, p.max_words)
    ctx.report_data(
        split.rows,
        unit="reviews",
        generator="movie reviews from a template generator (opinion words, negations, contrasts); "
        f"nothing in it favours one {favours_none_of}",
    )
    cut = f", each cut to its first {p.max_words} words" if p.max_words else ""
    ctx.text(f"{split.source}: {split.sizes()}{cut}.")
    return split


def split_encoder(ctx: LabContext, split: ClasSplit, lm_epochs: int) -> tuple[Vocab, str]:
    """The store's fine-tuned encoder when its vocabulary knows these reviews' words nearly as well as one
    fine-tuned here would (`REUSE_MARGIN`), else one fine-tuned here and kept in the store (`encoder_for`).
    Its vocab and the path to load."""
    covered = split.train[0] + split.tune[0] + split.holdout[0]

    def reused_from() -> float:
        """Asked only when the store holds an encoder: a first run skips this tokenizing."""
        own = vocab_coverage(Vocab.build(Tokenizer().tokenize_many(split.lm_texts)), covered)
        return own - REUSE_MARGIN

    return encoder_for(ctx, split.reviews(), lm_epochs, min_coverage=reused_from, covered=covered)


# ---- arms --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    freeze_to: int  # learn.freeze_to(n): -1 is freeze() (the head only), 0 is unfreeze()
    epochs: int
    scale: float  # this stage's top rate as a fraction of the arm's top rate

    def call(self) -> str:
        return {-1: "freeze()", 0: "unfreeze()"}.get(self.freeze_to, f"freeze_to({self.freeze_to})")


@dataclass(frozen=True)
class Arm:
    name: str
    stages: tuple[Stage, ...]
    ratio: float = 1.0  # each group's rate is `ratio` times below the next one's; 1: one rate for all

    @property
    def epochs(self) -> int:
        return sum(stage.epochs for stage in self.stages)

    def rate(self, lr: float, stage: Stage, n_groups: int) -> float | slice:
        top = lr * stage.scale
        return top if self.ratio == 1 else ladder(top, n_groups, self.ratio)

    def recipe(self, lr: float, n_groups: int) -> str:
        """The notebook lines this arm runs at top rate `lr`."""
        return "; ".join(
            f"{s.call()}; fit_one_cycle({s.epochs}, {describe_lr(self.rate(lr, s, n_groups))})"
            for s in self.stages
        )


@dataclass(frozen=True)
class Fit:
    """One fine-tuning run, an item `LabContext.run_all` may hand to a helper process: `arm` at top rate
    `lr` on `seed`, scored on the tuning split or the held-out one."""

    arm: Arm
    lr: float
    seed: int
    curve: str = ""
    on_tuning: bool = False
    keep_weights: bool = False  # send the trained weights back (a run the lab keeps using)
    stage_scores: bool = False  # also score the held-out split after each stage


@dataclass(frozen=True)
class Scored:
    accuracy: float
    weights: bytes | None = None
    stage_accuracy: tuple[float, ...] = ()


# ---- data and training -------------------------------------------------------------------------------------


@dataclass
class Experiment:
    """The split numericalised once with the encoder's vocabulary, and how to train and score an arm."""

    ctx: LabContext
    split: ClasSplit
    vocab: Vocab
    encoder: str
    bs: int
    bptt: int = 72
    tokenizer: Tokenizer = field(default_factory=Tokenizer)

    def __post_init__(self) -> None:
        self.classes = sorted({str(label) for label in self.split.train[1] + self.split.tune[1]})
        if len(self.classes) < 2:
            raise ValueError(f"the labelled training reviews hold one class only: {self.classes}")
        index = {c: i for i, c in enumerate(self.classes)}

        def numericalise(part: tuple[list[str], list[str]]) -> tuple[list, list[int]]:
            tokens = self.tokenizer.tokenize_many(part[0])
            return [self.vocab.numericalize(t) for t in tokens], [index.get(str(y), 0) for y in part[1]]

        self._train = numericalise(self.split.train)
        self._tune = numericalise(self.split.tune)
        self._holdout = numericalise(self.split.holdout)

    def _loader(self, part: tuple[list, list[int]], shuffle: bool, seed: int = 0) -> SortedPadLoader:
        return SortedPadLoader(part[0], part[1], self.bs, shuffle, seed, self.vocab.pad_index, self.bptt)

    def data(self, seed: int) -> TextDataLoaders:
        """The training reviews in `seed`'s order; no validation loader, so a fit spends no time scoring."""
        train = self._loader(self._train, shuffle=True, seed=seed)
        return TextDataLoaders(train, None, self.vocab, self.tokenizer, self.classes, self.bptt)

    @property
    def tune_loader(self) -> SortedPadLoader:
        return self._loader(self._tune, shuffle=False)

    @property
    def holdout_loader(self) -> SortedPadLoader:
        return self._loader(self._holdout, shuffle=False)

    def train(
        self,
        arm: Arm,
        lr: float,
        seed: int,
        curve: str = "",
        after_stage: Callable[[int, TextClassifierLearner], None] | None = None,
    ) -> TextClassifierLearner:
        """A classifier from the encoder (the same head initialisation for every arm on `seed`), trained by
        `arm` at top rate `lr`."""
        self.ctx.check_cancelled()
        self.ctx.reseed(seed)
        self.ctx.curve(curve or f"{arm.name} · lr {lr:g} · seed {seed}")
        learn = classifier_with_encoder(self.ctx, self.data(seed), self.encoder)
        n_groups = len(learn.layer_groups)
        for i, stage in enumerate(arm.stages):
            learn.freeze_to(stage.freeze_to)
            learn.fit_one_cycle(stage.epochs, arm.rate(lr, stage, n_groups))
            if after_stage is not None:
                after_stage(i, learn)
        return learn

    def run_fits(self, fits: Sequence[Fit]) -> list[Scored]:
        """Every fit trained and scored, shared with helper processes where the machine has cores to spare."""
        return self.ctx.run_all(self._run_fit, fits)

    def _run_fit(self, fit: Fit) -> Scored:
        stages: list[float] = []
        learn = self.train(
            fit.arm,
            fit.lr,
            fit.seed,
            fit.curve,
            after_stage=(lambda _, m: stages.append(self.accuracy(m, self.holdout_loader)))
            if fit.stage_scores
            else None,
        )
        accuracy = self.accuracy(learn, self.tune_loader if fit.on_tuning else self.holdout_loader)
        return Scored(accuracy, state_bytes(learn.model) if fit.keep_weights else None, tuple(stages))

    def restored(self, run: Scored, seed: int) -> TextClassifierLearner:
        """The classifier a fit on `seed` trained, from the weights it sent back (`Fit.keep_weights`)."""
        if run.weights is None:
            raise ValueError("this fit did not keep its weights (Fit.keep_weights)")
        learn = classifier_with_encoder(self.ctx, self.data(seed), self.encoder)
        load_state_bytes(learn.model, run.weights)
        return learn

    def chance_note(self, means: dict[str, float]) -> str:
        """A warning when every arm stays near the held-out split's majority-class rate: the classifiers
        have barely learned the task, and a difference between arms says little about the card."""
        labels = self._holdout[1]
        majority = max(labels.count(c) for c in set(labels)) / len(labels)
        best = max(means.values())
        if best >= majority + CHANCE_MARGIN:
            return ""
        return (
            f"Every arm stays near a coin toss on the held-out reviews (best mean {best:.3f}; always "
            f"answering the commoner label gives {majority:.3f}): at this size and budget the classifier has "
            "barely learned the task, so a difference between arms says little about the card."
        )

    def accuracy(self, learn: TextClassifierLearner, loader: SortedPadLoader) -> float:
        preds, targets = learn.get_preds(dl=loader)
        return float((preds.argmax(-1) == targets.reshape(-1)).float().mean())

    def stage_table(self, arms: Sequence[Arm], chosen: dict[str, float]) -> list[list[str]]:
        """One row per arm and stage: which layer groups train, and at which rates (at the chosen top rate)."""
        from labs._ulmfit import config_of

        n_groups = config_of(self.ctx).n_layers + 2
        names = group_names(n_groups)
        rows = []
        for arm in arms:
            for stage in arm.stages:
                rate = arm.rate(chosen[arm.name], stage, n_groups)
                rates = _group_rates(rate, n_groups)
                first = n_groups + stage.freeze_to if stage.freeze_to < 0 else 0
                cells = [f"{r:.1e}" if g >= first else "frozen" for g, r in enumerate(rates)]
                rows.append([arm.name, f"{stage.call()} · {stage.epochs} ep", *cells])
        return [["arm", "stage", *names], *rows]


def _group_rates(rate: float | slice, n_groups: int) -> list[float]:
    from engine.optim import lr_ladder

    return lr_ladder(rate, n_groups)


@dataclass
class Tuning:
    """Each arm's tuning-split accuracy per grid rate, the rate chosen, and the first seed's run at it."""

    grid: tuple[float, ...]
    scores: dict[str, dict[float, float]]
    chosen: dict[str, float]
    epochs: dict[str, int]
    learners: dict[str, TextClassifierLearner]

    def table(self) -> tuple[list[str], list[list[str]]]:
        columns = ["arm", "epochs", *(f"lr {lr:g}" for lr in self.grid), "chosen"]
        rows = [
            [
                arm,
                str(self.epochs[arm]),
                *(f"{self.scores[arm][lr]:.3f}" for lr in self.grid),
                f"{self.chosen[arm]:g}",
            ]
            for arm in self.scores
        ]
        return columns, rows

    def to_dict(self) -> dict[str, object]:
        return {
            "grid": list(self.grid),
            "split": "tuning",
            "epochs": dict(self.epochs),
            "scores": {
                arm: {f"{lr:g}": round(s, 4) for lr, s in row.items()} for arm, row in self.scores.items()
            },
            "chosen": dict(self.chosen),
        }


def tune_arms(exp: Experiment, arms: Sequence[Arm], grid: Sequence[float], seed: int) -> Tuning:
    """Every arm's top rate from the same grid, by accuracy on the tuning split (first seed); ties go to
    the smaller rate. The run at the chosen rate is kept: it is that seed's run of the arm."""
    ordered = sorted(grid)
    fits = [
        Fit(arm, lr, seed, f"tuning · {arm.name} · lr {lr:g}", on_tuning=True, keep_weights=True)
        for arm in arms
        for lr in ordered
    ]
    runs = dict(zip(((fit.arm.name, fit.lr) for fit in fits), exp.run_fits(fits)))
    scores: dict[str, dict[float, float]] = {}
    chosen: dict[str, float] = {}
    kept: dict[str, TextClassifierLearner] = {}
    for arm in arms:
        accuracy = {lr: runs[arm.name, lr].accuracy for lr in ordered}
        chosen[arm.name], scores[arm.name] = pick_best(ordered, accuracy.__getitem__, lower_is_better=False)
        kept[arm.name] = exp.restored(runs[arm.name, chosen[arm.name]], seed)
    return Tuning(tuple(ordered), scores, chosen, {arm.name: arm.epochs for arm in arms}, kept)


@dataclass
class HeldOut:
    stage_accuracy: tuple[float, ...]  # the recorded arm's last-seed run, after each stage
    learner: TextClassifierLearner | None  # the recorded arm's run on the last seed


def held_out_runs(
    exp: Experiment,
    arms: Sequence[Arm],
    tuning: Tuning,
    seeds: Sequence[int],
    results: SeedResults,
    recorded: str = "",
) -> HeldOut:
    """Every arm on every seed at its chosen rate, scored on the held-out split, into `results` in seed
    order. The first seed's runs are the tuning runs at those rates. The `recorded` arm's run on the last
    seed is kept and scored after each stage as well."""
    later = [
        Fit(
            arm,
            tuning.chosen[arm.name],
            seed,
            keep_weights=arm.name == recorded and seed == seeds[-1],
            stage_scores=arm.name == recorded and seed == seeds[-1],
        )
        for seed in seeds[1:]
        for arm in arms
    ]
    runs = dict(zip(((fit.seed, fit.arm.name) for fit in later), exp.run_fits(later)))
    for seed in seeds:
        for arm in arms:
            if seed == seeds[0]:
                results.add(arm.name, exp.accuracy(tuning.learners[arm.name], exp.holdout_loader))
            else:
                results.add(arm.name, runs[seed, arm.name].accuracy)
    if not recorded:
        return HeldOut((), None)
    if len(seeds) == 1:
        return HeldOut((), tuning.learners[recorded])
    last = runs[seeds[-1], recorded]
    return HeldOut(last.stage_accuracy, exp.restored(last, seeds[-1]))
