"""Every lab's metadata: ids, cards, parameters, presets and the "predict the outcome" question.

Torch-free on purpose: `cardlab pack check` validates card `lab` links with `known_lab_ids()`, and the
study screen shows the lab key, without paying for a torch import. The code that trains lives in
`labs/<lab_id_with_underscores>.py` and is imported by `load_run_function` only when a lab runs.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from labs.errors import LabError

if TYPE_CHECKING:
    from labs.context import LabContext

LESSON_PACK_ID = "fastai-lesson4"
PRESET_NAMES = ("smoke", "quick", "full")
DEFAULT_PRESET = "quick"

ParamType = Literal["int", "float", "str", "bool", "choice"]
ParamValue = int | float | str | bool


@dataclass(frozen=True)
class Param:
    """One typed lab parameter; `default` is the `quick` value unless a preset overrides it."""

    name: str
    type: ParamType
    default: ParamValue
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, text: str) -> ParamValue:
        """Turn user text (from `--set` or an input box) into a checked value."""
        text = text.strip()
        try:
            if self.type == "int":
                value: ParamValue = int(text)
            elif self.type == "float":
                value = float(text)
            elif self.type == "bool":
                value = _parse_bool(text)
            else:
                value = text
        except ValueError:
            raise LabError(f"{self.name}: {text!r} is not a valid {self.type}") from None
        return self.check(value)

    def check(self, value: object) -> ParamValue:
        """Coerce `value` to this parameter's type and check its range or choices."""
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
                raise LabError(f"{self.name}: expected an integer, got {value!r}")
            value = int(value)
        elif self.type == "float":
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise LabError(f"{self.name}: expected a finite number, got {value!r}")
            value = float(value)
        elif self.type == "bool":
            if not isinstance(value, bool):
                raise LabError(f"{self.name}: expected true or false, got {value!r}")
        elif not isinstance(value, str):
            raise LabError(f"{self.name}: expected text, got {value!r}")
        if self.type == "choice" and value not in self.choices:
            raise LabError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                raise LabError(f"{self.name}: {value} is below the minimum {self.min:g}")
            if self.max is not None and value > self.max:
                raise LabError(f"{self.name}: {value} is above the maximum {self.max:g}")
        return value


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on", "y"}:
        return True
    if lowered in {"0", "false", "no", "off", "n"}:
        return False
    raise ValueError(text)


@dataclass(frozen=True)
class Question:
    """Asked before a run; the lab's result names which choice came true (`result["outcome"]`)."""

    prompt: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class LabInfo:
    id: str
    title: str
    summary: str
    card_ids: tuple[str, ...]  # card ids in the bundled pack `LESSON_PACK_ID`
    params: tuple[Param, ...]
    presets: Mapping[str, Mapping[str, ParamValue]]
    question: Question | None
    module: str
    steps: tuple[str, ...] = field(default=())  # stage names, in order, for the lab screen's steps list
    full_data: str | None = None  # the real dataset (`cardlab data fetch NAME`) the `full` preset trains on

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        known = ", ".join(p.name for p in self.params)
        raise LabError(f"lab {self.id!r} has no parameter {name!r} (it has: {known})")

    def resolve(
        self, preset: str = DEFAULT_PRESET, overrides: Mapping[str, object] | None = None
    ) -> dict[str, ParamValue]:
        """The parameter values of `preset`, with `overrides` on top, all checked."""
        if preset not in self.presets:
            raise LabError(f"unknown preset {preset!r}; choose one of {', '.join(self.presets)}")
        values: dict[str, ParamValue] = {p.name: p.default for p in self.params}
        values.update(self.presets[preset])
        for name, value in (overrides or {}).items():
            param = self.param(name)
            values[name] = param.parse(value) if isinstance(value, str) and param.type != "str" else value
        return {name: self.param(name).check(value) for name, value in values.items()}

    def parse_assignments(self, assignments: list[str]) -> dict[str, ParamValue]:
        """`["lr=0.01", "epochs=2"]` (from `--set`) to checked values."""
        parsed: dict[str, ParamValue] = {}
        for item in assignments:
            name, sep, text = item.partition("=")
            if not sep or not name.strip():
                raise LabError(f"--set expects key=value, got {item!r}")
            parsed[name.strip()] = self.param(name.strip()).parse(text)
        return parsed


def _presets(
    smoke: dict[str, ParamValue], full: dict[str, ParamValue]
) -> Mapping[str, Mapping[str, ParamValue]]:
    """`quick` is the parameters' defaults; `smoke` and `full` override some of them."""
    return MappingProxyType(
        {"smoke": MappingProxyType(smoke), "quick": MappingProxyType({}), "full": MappingProxyType(full)}
    )


_ROWS_HELP = "rows generated"
_LR_HELP = "maximum learning rate of the one-cycle schedule"
_REAL_DOCS_HELP = "reviews sampled from --data (a real review is about 10x longer than a generated one)"

# The ULMFiT labs' shared parameters, declared once.
ULMFIT_SIZES = {"emb_sz": 64, "n_hid": 192, "n_layers": 2}
_ULMFIT_SIZE_PARAMS = (
    Param("emb_sz", "int", ULMFIT_SIZES["emb_sz"], "embedding size", min=4, max=1024),
    Param("n_hid", "int", ULMFIT_SIZES["n_hid"], "LSTM hidden size", min=4, max=2048),
    Param("n_layers", "int", ULMFIT_SIZES["n_layers"], "LSTM layers", min=1, max=4),
)
_PRETRAIN_PARAMS = (
    Param("pretrained", "str", "general-lm",
          "the pretrained language model: a model-store name (general-lm is made once, the first time a lab "
          "needs it), wt103-fwd, fastai's WikiText-103 model (`cardlab data fetch wt103-fwd`; 400/1152/3), or "
          "a folder holding a model in fastai's layout (one .pth, one .pkl vocabulary)"),
    Param("pretrain_docs", "int", 6000, "generated stories general-lm is pretrained on, when it is made", min=20),
    Param("pretrain_epochs", "int", 8, "epochs of that pretraining, when it is made", min=1, max=100),
)  # fmt: skip
_CLASSIFIER_DATA_PARAMS = (
    Param("labels", "int", 60, "labelled training reviews: the fewer, the more the pretrained encoder matters",
          min=4),
    Param("valid_docs", "int", 1000, "held-out reviews the accuracy is measured on", min=10),
    Param("review_docs", "int", 3000, "unlabelled reviews for the review LM, when no stored encoder fits", min=20),
)  # fmt: skip
# Five seeds by default: on one seed the validation set's noise hides how much a fine-tuning run varies
# (measured: ratio 1 from 0.50 to 0.93 across seeds, with a validation standard error of 0.015).
_SEEDS_PARAM = Param("seeds", "int", 5, "seeds to run the comparison on (--seed, --seed+1, ...)", min=1, max=20)
_ULMFIT_SMOKE = {"emb_sz": 16, "n_hid": 32, "n_layers": 1, "pretrain_docs": 60, "pretrain_epochs": 1}
_ULMFIT_FULL = {"emb_sz": 400, "n_hid": 1152, "n_layers": 3, "pretrained": "wt103-fwd"}


LABS: tuple[LabInfo, ...] = (
    LabInfo(
        id="lr-find",
        title="Find a learning rate",
        summary=(
            "Train for one short sweep with the learning rate growing exponentially from 1e-7 to 10, and "
            "record the smoothed loss at each step. Plotted against the learning rate on a log scale, the "
            "loss is flat, then falls, then explodes. The pick is not the minimum (the loss is already about "
            "to blow up there) but a rate on the steep descent, about ten times lower; a short one-cycle fit "
            "at the pick and at the minimum shows why."
        ),
        card_ids=("fit-language-model", "fine-tune-classifier-process"),
        params=(
            Param("rows", "int", 8000, _ROWS_HELP, min=200, max=1_000_000),
            Param("bs", "int", 64, "batch size", min=8, max=4096),
            Param("num_it", "int", 100, "lr finder steps", min=10, max=1000),
            Param("start_lr", "float", 1e-7, "first learning rate of the sweep", min=1e-10, max=1.0),
            Param("end_lr", "float", 10.0, "last learning rate of the sweep", min=1e-4, max=1000.0),
            Param(
                "epochs", "int", 3, "epochs of the fits (constant lr) that follow the sweep", min=0, max=50
            ),
        ),
        presets=_presets(
            smoke={"rows": 400, "num_it": 40, "epochs": 1},
            full={"rows": 32561, "num_it": 200, "epochs": 5},
        ),
        question=Question(
            "Which learning rate trains best: the one at the minimum of the lr-finder curve, or the "
            "suggestion on the steep descent before it?",
            ("the minimum", "the suggestion before it"),
        ),
        module="labs.lr_find",
        full_data="adult_sample",
        steps=("data", "lr finder", "fit at the suggestion", "fit at the minimum"),
    ),
    LabInfo(
        id="ulmfit-lm",
        title="ULMFiT steps 1 and 2: a pretrained language model, fine-tuned on the reviews",
        summary=(
            "A language model learns to predict the next word. The lesson starts from one pretrained once on "
            "WikiText-103; here it comes from the model store (made once on a generated general corpus the "
            "first time a lab needs it, or fastai's WT103 weights). Fine-tune it on the target corpus, the "
            "movie reviews, using all their text (labelled and unlabelled alike, since no labels are "
            "needed), compare the perplexity on held-out reviews before and after, generate sentences, and "
            "save the encoder as `fine_tuned_enc` for the classifier labs."
        ),
        card_ids=("nlp-transfer-learning", "language-model-trick", "fit-language-model"),
        params=(
            Param("review_docs", "int", 3000, "generated movie reviews in the target corpus", min=20),
            Param("real_docs", "int", 800, _REAL_DOCS_HELP, min=20),
            Param("valid_docs", "int", 300, "held-out reviews the perplexity is measured on", min=10),
            *_ULMFIT_SIZE_PARAMS,
            Param("bptt", "int", 48, "tokens per sequence (backprop through time)", min=4, max=512),
            Param("bs", "int", 32, "batch size (parallel streams)", min=2, max=512),
            Param("finetune_epochs", "int", 3, "epochs on the review corpus (1 frozen, then unfrozen)", min=0, max=50),
            Param("lr", "float", 1e-2, _LR_HELP, min=1e-6, max=10.0),
            Param("drop_mult", "float", 0.3, "multiplies every dropout of the AWD-LSTM", min=0.0, max=2.0),
            Param("use_all_text", "bool", True, "fine-tune on the unlabelled reviews too (the trick)"),
            *_PRETRAIN_PARAMS,
            Param("prompt", "str", "I liked this movie because", "start of the generated sentences"),
            Param("n_words", "int", 20, "words to generate", min=1, max=200),
        ),
        presets=_presets(
            smoke={**_ULMFIT_SMOKE, "review_docs": 60, "valid_docs": 20, "bptt": 16, "bs": 8,
                   "finetune_epochs": 1, "n_words": 8},
            full={**_ULMFIT_FULL, "real_docs": 100_000, "valid_docs": 25_000, "bptt": 70, "bs": 64,
                  "finetune_epochs": 11, "lr": 1e-2, "n_words": 40},
        ),  # fmt: skip
        question=Question(
            "Fine-tuning on the reviews: how much does it lower the perplexity on held-out reviews?",
            ("barely (less than 10%)", "clearly (10% or more)"),
        ),
        module="labs.ulmfit_lm",
        full_data="imdb",
        steps=("data", "pretrained model", "fine-tune on the reviews", "generate"),
    ),
    LabInfo(
        id="ulmfit-classifier",
        title="ULMFiT step 3: a classifier with gradual unfreezing",
        summary=(
            "Load the fine-tuned encoder (`fine_tuned_enc`, from ulmfit-lm via the model store), build the "
            "classifier data with the SAME vocabulary and freeze the encoder. Train the head, then "
            "`freeze_to(-2)`, `freeze_to(-3)` and `unfreeze()`, each with discriminative learning rates "
            "`slice(lr/2.6**4, lr)`. Then the same budget with everything unfrozen at once, on few labelled "
            "reviews and a large held-out set, over one or more seeds; the verdict weighs the difference "
            "against the noise. The trained model predicts the sentiment of your sentence."
        ),
        card_ids=("lm-to-classifier", "freeze-to", "fine-tune-classifier-process"),
        params=(
            *_CLASSIFIER_DATA_PARAMS,
            *_ULMFIT_SIZE_PARAMS,
            Param("bs", "int", 16, "batch size", min=2, max=512),
            Param("lm_epochs", "int", 3, "epochs of the review LM, when no stored encoder fits the data", min=0),
            Param("lr", "float", 5e-2, "learning rate of the head; the ladder divides it by 2.6 per group", min=1e-6),
            Param("drop_mult", "float", 0.3, "multiplies every dropout of the classifier (the lesson: 0.5)",
                  min=0.0, max=2.0),
            Param("schedule", "choice", "lab", "top rates of the four stages: the lesson's falling 1, 1/2, 1/4, "
                  "1/20 of lr, or the lab's 1, 1/2, 1/2, 1/2", choices=("lab", "lesson")),
            Param("compare", "bool", True, "also train with everything unfrozen at once, same budget"),
            _SEEDS_PARAM,
            *_PRETRAIN_PARAMS,
            Param("sentence", "str", "I really loved that movie, it was not boring at all", "a review to classify"),
        ),
        presets=_presets(
            smoke={**_ULMFIT_SMOKE, "labels": 40, "valid_docs": 40, "review_docs": 60, "bs": 16, "lm_epochs": 1,
                   "seeds": 1},
            full={**_ULMFIT_FULL, "labels": 25_000, "valid_docs": 25_000, "review_docs": 50_000, "bs": 48,
                  "lm_epochs": 11, "lr": 2e-2, "drop_mult": 0.5, "schedule": "lesson"},
        ),  # fmt: skip
        question=Question(
            "Will unfreezing every layer at once beat gradual unfreezing on the same budget?",
            ("yes, all at once wins", "no, gradual unfreezing wins or ties"),
        ),
        module="labs.ulmfit_classifier",
        full_data="imdb",
        steps=(
            "data",
            "encoder",
            "head alone",
            "head only (freeze)",
            "freeze_to(-2)",
            "freeze_to(-3)",
            "unfreeze()",
            "all at once",
            "predict",
        ),
    ),
    LabInfo(
        id="discriminative-lr",
        title="Discriminative learning rates: why 2.6?",
        summary=(
            "Lower layers of a pretrained model hold general features and should move less than the head. "
            "`slice(lr/2.6**4, lr)` gives each layer group a learning rate 2.6 times smaller than the next "
            "one. Fine-tune the same pretrained classifier three times on the same budget: one learning rate "
            "everywhere (ratio 1), ratio 2.6, and a large ratio that all but freezes the encoder, on few "
            "labelled reviews, over one or more seeds."
        ),
        card_ids=("discriminative-learning-rate", "what-is-2-6"),
        params=(
            *_CLASSIFIER_DATA_PARAMS,
            *_ULMFIT_SIZE_PARAMS,
            Param("bs", "int", 16, "batch size", min=2, max=512),
            Param("lm_epochs", "int", 3, "epochs of the review LM, when no stored encoder fits the data", min=0),
            Param("epochs", "int", 3, "classifier epochs for each ratio", min=1),
            Param("drop_mult", "float", 0.3, "multiplies every dropout of the classifier (the lesson: 0.5)",
                  min=0.0, max=2.0),
            Param("lr", "float", 5e-2, "learning rate of the head", min=1e-6),
            Param("large_ratio", "float", 20.0, "the large ratio compared with 1 and 2.6", min=1.0, max=1000.0),
            _SEEDS_PARAM,
            *_PRETRAIN_PARAMS,
        ),
        presets=_presets(
            smoke={**_ULMFIT_SMOKE, "labels": 40, "valid_docs": 40, "review_docs": 60, "bs": 16, "lm_epochs": 1,
                   "epochs": 1, "seeds": 1},
            full={**_ULMFIT_FULL, "labels": 25_000, "valid_docs": 25_000, "review_docs": 50_000, "bs": 48,
                  "lm_epochs": 11, "epochs": 2, "lr": 1e-2, "drop_mult": 0.5},
        ),  # fmt: skip
        question=Question(
            "Which ratio between the learning rates of consecutive layer groups gives the best accuracy?",
            ("1 (one learning rate)", "2.6", "the large ratio"),
        ),
        module="labs.discriminative_lr",
        full_data="imdb",
        steps=("data", "encoder", "ratio 1", "ratio 2.6", "large ratio"),
    ),
    LabInfo(
        id="tabular",
        title="Tabular data: procs, embeddings and a tabular learner",
        summary=(
            "Census rows with categorical and continuous columns. FillMissing puts the training median in "
            "each hole and adds an `_na` column; Categorify turns categories into codes (0 is `#na#`); "
            "Normalize uses the training mean and std. Each categorical column gets an embedding, continuous "
            "ones go in as they are. Validation is a contiguous block (`split_by_idx`), the model has "
            "`layers=[200, 100]`, and you can edit a row and predict it."
        ),
        card_ids=("embeddings-for-categorical", "missing-data", "tabular-learner", "contiguous-validation"),
        params=(
            Param("rows", "int", 8000, _ROWS_HELP, min=200, max=1_000_000),
            Param("valid_start", "int", 800, "first row of the validation block", min=0),
            Param("valid_end", "int", 1800, "row after the validation block", min=1),
            Param("bs", "int", 64, "batch size", min=8, max=4096),
            Param("epochs", "int", 3, "epochs", min=1, max=100),
            Param("lr", "float", 1e-2, _LR_HELP, min=1e-6, max=10.0),
            Param("layers", "str", "200,100", "hidden layer sizes, comma-separated"),
            Param(
                "row",
                "str",
                "age=?, workclass=Private, education=Masters, education-num=14, marital-status=Married-civ-spouse, "
                "occupation=Exec-managerial, relationship=Husband, race=White",
                "a row to predict (column=value, ? for missing)",
            ),
        ),
        presets=_presets(
            smoke={"rows": 600, "valid_start": 400, "valid_end": 600, "epochs": 1},
            full={"rows": 32561, "valid_start": 800, "valid_end": 1000, "epochs": 4},
        ),
        question=Question(
            "Some continuous values are missing in the training rows. After FillMissing, what does a "
            "missing value become?",
            ("zero", "the training median, plus an is-missing (_na) column", "the row is dropped"),
        ),
        module="labs.tabular",
        full_data="adult_sample",
        steps=("data", "procs", "model", "train", "predict"),
    ),
    LabInfo(
        id="contiguous-split",
        title="Validation on a contiguous period",
        summary=(
            "When the model will predict the future, the validation set must be the last period, not random "
            "rows: random rows let the model interpolate between neighbouring days it has seen. Train the same "
            "model on daily store sales with a random split and with the last weeks held out, then ship it "
            "trained on all the history: which validation error predicted its error on the weeks after?"
        ),
        card_ids=("contiguous-validation", "tabular-time-series"),
        params=(
            Param("stores", "int", 20, "stores in the generated series", min=1),
            Param("days", "int", 500, "days per store", min=60),
            Param("valid_days", "int", 42, "days in the validation period", min=7),
            Param(
                "test_days",
                "int",
                42,
                "days after the history: the future the shipped model is scored on",
                min=7,
            ),
            Param(
                "drift",
                "float",
                0.02,
                "daily std of each store's wandering level (generated data)",
                min=0.0,
                max=1.0,
            ),
            Param("bs", "int", 128, "batch size", min=8),
            Param("epochs", "int", 4, "epochs", min=1, max=100),
            Param("lr", "float", 1e-2, _LR_HELP, min=1e-6, max=10.0),
        ),
        presets=_presets(
            smoke={"stores": 4, "days": 150, "valid_days": 14, "test_days": 14, "epochs": 1},
            full={"stores": 100, "days": 900, "epochs": 8},
        ),
        question=Question(
            "Which validation error is closer to the error on the future weeks?",
            ("the random split's", "the contiguous split's"),
        ),
        module="labs.contiguous_split",
        steps=("data", "random split", "contiguous split", "future test"),
    ),
    LabInfo(
        id="collab",
        title="Collaborative filtering with EmbeddingDotBias",
        summary=(
            "Ratings are a big sparse users-by-movies matrix. Give each user and each movie a vector of "
            "factors and a bias; a rating is their dot product plus both biases, squashed into `y_range` by a "
            "sigmoid. After training, the movie biases rank the most and least liked movies (whoever watches "
            "them), and the user's unrated movies with the highest predictions are the recommendations."
        ),
        card_ids=("collaborative-filtering",),
        params=(
            Param("users", "int", 943, "users", min=5),
            Param("items", "int", 1682, "movies", min=5),
            Param("ratings", "int", 100_000, "ratings", min=50),
            Param("n_factors", "int", 40, "factors per user and movie", min=1, max=1000),
            Param("epochs", "int", 5, "epochs", min=1, max=100),
            Param("lr", "float", 2e-2, _LR_HELP, min=1e-6, max=10.0),
            Param("wd", "float", 0.0, "decoupled weight decay (the lesson: 0.1)", min=0.0, max=10.0),
            Param(
                "emb_l2",
                "float",
                0.05,
                "L2 penalty on the embedding rows a batch uses (fast recipe)",
                min=0.0,
            ),
            Param("bs", "int", 1024, "batch size (the lesson: 64)", min=8),
            Param("y_max", "float", 5.5, "upper end of y_range (ratings are 1 to 5)", min=1.0, max=100.0),
            Param("user", "int", 1, "user whose recommendations are shown", min=0),
            Param("top_k", "int", 5, "recommendations shown", min=1, max=100),
        ),
        presets=_presets(
            smoke={"users": 60, "items": 80, "ratings": 2000, "n_factors": 8, "epochs": 2, "bs": 256},
            full={"bs": 64, "lr": 5e-3, "wd": 0.1, "emb_l2": 0.0},
        ),
        question=Question(
            "The ratings go from 1 to 5. Which y_range gives the lower validation error?",
            ("exactly the ratings' range, (1, 5)", "a wider one, like (0, 5.5)"),
        ),
        module="labs.collab",
        full_data="ml-100k",
        steps=("data", "train", "exact y_range", "interpret", "recommend"),
    ),
    LabInfo(
        id="cold-start",
        title="The cold-start problem",
        summary=(
            "A new user or a new movie has no ratings, so it has no learned factors. A second model driven "
            "by metadata (the user's age, gender and occupation; the movie's genres and year) predicts for "
            "them instead; Netflix's sign-up questionnaire collects exactly such data. Hold out whole users, "
            "then compare the metadata model with the global mean rating on them."
        ),
        card_ids=("cold-start",),
        params=(
            Param("users", "int", 943, "users", min=20),
            Param("items", "int", 1682, "movies", min=20),
            Param("ratings", "int", 100_000, "ratings", min=200),
            Param("new_users", "float", 0.1, "fraction of users held out as new", min=0.01, max=0.5),
            Param("epochs", "int", 5, "epochs of each model", min=1, max=100),
            Param("lr", "float", 5e-3, _LR_HELP, min=1e-6, max=10.0),
            Param("bs", "int", 512, "batch size", min=8),
        ),
        presets=_presets(
            smoke={"users": 80, "items": 80, "ratings": 3000, "epochs": 2},
            full={"epochs": 10},
        ),
        question=Question(
            "On users the model has never seen, does the metadata model beat predicting the global mean?",
            ("yes", "no, nothing beats the mean without ratings"),
        ),
        module="labs.cold_start",
        full_data="ml-100k",
        steps=("data", "collab model", "metadata model", "new users"),
    ),
    LabInfo(
        id="tabular-time-series",
        title="Tabular time series: features beat an RNN",
        summary=(
            "Daily store sales depend on the day of week, promotions, holidays, whether the store is open and "
            "the competition. Give a tabular model those columns plus date features, and compare it with an "
            "RNN that only sees the past weeks of sales, on the same last-period validation. The lesson's "
            "advice: when such features exist, do not reach for an RNN."
        ),
        card_ids=("tabular-time-series",),
        params=(
            Param("stores", "int", 20, "stores in the generated series", min=1),
            Param("days", "int", 500, "days per store", min=60),
            Param("valid_days", "int", 42, "days in the validation period", min=7),
            Param("window", "int", 28, "past days the RNN sees", min=2, max=365),
            Param("bs", "int", 128, "batch size", min=8),
            Param("epochs", "int", 4, "epochs of each model", min=1, max=100),
            Param("lr", "float", 1e-2, _LR_HELP, min=1e-6, max=10.0),
        ),
        presets=_presets(
            smoke={"stores": 3, "days": 120, "valid_days": 14, "window": 7, "epochs": 1},
            full={"stores": 100, "days": 900, "epochs": 10},
        ),
        question=Question(
            "Which model predicts the last weeks' sales better?",
            ("the RNN on past sales", "the tabular model with date and store features"),
        ),
        module="labs.tabular_time_series",
        steps=("data", "tabular model", "RNN", "compare"),
    ),
)

# A plain dict so tests can register a throwaway lab with monkeypatch.setitem.
_BY_ID: dict[str, LabInfo] = {lab.id: lab for lab in LABS}


def all_labs() -> tuple[LabInfo, ...]:
    return tuple(_BY_ID.values())


def known_lab_ids() -> frozenset[str]:
    return frozenset(_BY_ID)


def get_lab(lab_id: str) -> LabInfo:
    try:
        return _BY_ID[lab_id]
    except KeyError:
        import difflib  # only this error path needs it

        close = difflib.get_close_matches(lab_id, _BY_ID, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise LabError(f"unknown lab {lab_id!r}; {hint}known labs: {', '.join(sorted(_BY_ID))}") from None


def labs_for_card(card_id: str, pack_id: str = LESSON_PACK_ID) -> tuple[LabInfo, ...]:
    """Labs that teach a card of the bundled pack (a card's own `lab` link names its main one)."""
    if pack_id != LESSON_PACK_ID:
        return ()
    return tuple(lab for lab in _BY_ID.values() if card_id in lab.card_ids)


RunFunction = Callable[["LabContext"], Any]


def load_run_function(info: LabInfo) -> RunFunction:
    """Import the lab's module (torch and all) and return its `run(ctx)`."""
    module = importlib.import_module(info.module)
    run = getattr(module, "run", None)
    if not callable(run):
        raise LabError(f"lab module {info.module} has no run(ctx) function")
    return run
