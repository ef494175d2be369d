"""Text datasets: readers for the real layouts and deterministic generators of offline corpora.

Readers (plain Python, no torch):
    read_imdb_folder(root)            -> TextSet   # aclImdb/ or fastai's imdb/: train|test / pos|neg / *.txt
    read_imdb_csv(path)               -> TextSet   # IMDB_SAMPLE texts.csv: label,text,is_valid
    read_wikitext(path)               -> list[str] # wiki.*.tokens, one text per article
    read_text_folder(root, pattern)   -> list[str] # every matching file, sorted by path
    read_labelled_folders(root)       -> TextSet   # root/<label>/*.txt, the label is the folder name

Generators (deterministic from the seed, pure Python):
    generate_general_corpus(n_docs, seed)  -> list[str]                 # stories in the reviews' style (tests)
    generate_plain_corpus(n_docs, seed)    -> list[str]                 # offline LM pretraining: its own words
    generate_review_corpus(n_docs, seed)   -> tuple[list[str], list[str]]  # texts, "positive"/"negative"

In the generated reviews the sentiment depends on word order: "not good" is negative, "not bad" positive,
and in "X was great , but Y was awful" the clause after "but" wins, so a bag of words reads little of it.
Every opinion in a review (and in a general-corpus story, whose consequences such as "so I was happy"
follow the same rules) shares the text's polarity, so a language model learns to track the sentiment
to predict the next opinion, which is what the classifier reuses. Measured (small config, 200 labelled
reviews, 200 valid, one thread): bag of words 0.47; AWD-LSTM classifier from scratch 0.765; the same
after an LM pretrained on 2,000 general stories and fine-tuned on 1,000 reviews, 0.905 (both classifiers
fit_one_cycle(7, 5e-3), drop_mult 0.1, bs 16; the pretrained one after load_encoder and unfreeze).
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TextSet:
    """Texts with their labels and a validation flag per text (all lists of the same length)."""

    texts: list[str]
    labels: list[str]
    is_valid: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.is_valid:
            self.is_valid = [False] * len(self.texts)
        if not len(self.texts) == len(self.labels) == len(self.is_valid):
            raise ValueError("texts, labels and is_valid must have the same length")

    def __len__(self) -> int:
        return len(self.texts)


# ---- readers -------------------------------------------------------------------------------------------


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def read_imdb_folder(
    root: str | Path, valid_split: str = "test", classes: tuple[str, ...] = ("neg", "pos")
) -> TextSet:
    """Labelled reviews of `train/` and `valid_split/` (`is_valid` marks the latter), labels "neg"/"pos"."""
    root = Path(root)
    if (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    texts, labels, is_valid = [], [], []
    for split in ("train", valid_split):
        for label in classes:
            folder = root / split / label
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"{folder} is missing: expected an IMDb layout {root}/{{train,test}}/{{neg,pos}}"
                )
            for file in sorted(folder.glob("*.txt")):
                texts.append(_read(file))
                labels.append(label)
                is_valid.append(split == valid_split)
    return TextSet(texts, labels, is_valid)


def read_imdb_unsup(root: str | Path) -> list[str]:
    """The 50k unlabelled reviews (`train/unsup` in aclImdb, `unsup` in fastai's imdb), for the LM."""
    root = Path(root)
    if (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    for folder in (root / "unsup", root / "train" / "unsup"):
        if folder.is_dir():
            return [_read(f) for f in sorted(folder.glob("*.txt"))]
    raise FileNotFoundError(f"no unsup/ or train/unsup/ folder under {root}")


def read_imdb_csv(path: str | Path) -> TextSet:
    """IMDB_SAMPLE's texts.csv (columns label, text, is_valid); also takes the folder that holds it."""
    path = Path(path)
    if path.is_dir():
        path = path / "texts.csv"
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        missing = {"label", "text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected label,text,is_valid")
        rows = list(reader)
    flags = [str(r.get("is_valid", "False")).strip().lower() in ("true", "1", "yes") for r in rows]
    return TextSet([r["text"] for r in rows], [r["label"] for r in rows], flags)


_WIKI_TITLE = re.compile(r"^ = [^=].* = $")


def read_wikitext(path: str | Path) -> list[str]:
    """A WikiText `.tokens` file split into articles (a line ` = Title = ` starts each one)."""
    articles: list[list[str]] = []
    with Path(path).open(encoding="utf-8") as file:
        for line in file:
            if _WIKI_TITLE.match(line.rstrip("\n")) or not articles:
                articles.append([])
            articles[-1].append(line)
    texts = ["".join(lines).strip() for lines in articles]
    return [t for t in texts if t]


def read_text_folder(root: str | Path, pattern: str = "*.txt") -> list[str]:
    """The text of every file under `root` matching `pattern` (recursively), sorted by path."""
    files = sorted(Path(root).rglob(pattern))
    if not files:
        raise FileNotFoundError(f"no {pattern} files under {root}")
    return [_read(f) for f in files]


def read_labelled_folders(root: str | Path, pattern: str = "*.txt") -> TextSet:
    """`root/<label>/*.txt`: one class per sub-folder."""
    root = Path(root)
    texts, labels = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(folder.glob(pattern)):
            texts.append(_read(file))
            labels.append(folder.name)
    if not texts:
        raise FileNotFoundError(f"no {pattern} files in sub-folders of {root}")
    return TextSet(texts, labels)


# ---- generated corpora -----------------------------------------------------------------------------------

POSITIVE = (
    "good",
    "great",
    "wonderful",
    "superb",
    "brilliant",
    "excellent",
    "lovely",
    "fantastic",
    "delightful",
    "charming",
    "moving",
    "gripping",
    "beautiful",
    "clever",
    "fresh",
    "stunning",
    "touching",
    "splendid",
)
NEGATIVE = (
    "bad",
    "awful",
    "terrible",
    "dull",
    "boring",
    "poor",
    "horrible",
    "weak",
    "clumsy",
    "tedious",
    "silly",
    "bland",
    "messy",
    "dreadful",
    "lame",
    "flat",
    "painful",
    "shallow",
)
_HAPPY = ("happy", "glad", "delighted", "pleased", "cheerful", "thrilled")
_SAD = ("sad", "angry", "upset", "disappointed", "annoyed", "miserable")
_GOOD_END = ("we smiled all the way home", "I would do it again", "everyone wanted more", "it made my day")
_BAD_END = ("we left early", "I would never do it again", "everyone complained", "it ruined my day")

_TOPICS = {
    "dinner": ("the soup", "the bread", "the service", "the dessert", "the wine", "the waiter"),
    "trip": ("the hotel", "the beach", "the weather", "the train", "the guide", "the view"),
    "concert": ("the singer", "the band", "the sound", "the crowd", "the songs", "the stage"),
    "book": ("the writing", "the ending", "the hero", "the first chapter", "the style", "the cover"),
    "game": ("the team", "the match", "the coach", "the second half", "the referee", "the stadium"),
    "party": ("the music", "the food", "the guests", "the games", "the decorations", "the cake"),
}
_MOVIE_PARTS = (
    "the acting",
    "the plot",
    "the script",
    "the music",
    "the ending",
    "the cast",
    "the story",
    "the camera work",
    "the dialogue",
    "the direction",
    "the lead actor",
    "the lead actress",
    "the soundtrack",
    "the pacing",
    "the special effects",
    "the first hour",
)
_PEOPLE = ("my sister", "my friend", "my father", "my mother", "a colleague", "my brother", "our neighbour")
_WHEN = ("last night", "on sunday", "yesterday", "last week", "this morning", "on friday")
_FILLER = (
    "I saw it {when} with {person} .",
    "{person} told me about it {when} .",
    "it is about a family in a small town .",
    "it runs for about two hours .",
    "the film was shown in a small cinema .",
    "it is based on an old novel .",
    "we bought tickets {when} .",
)


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


_PLURAL = {"the songs", "the guests", "the games", "the decorations", "the special effects"}


def _was(subject: str) -> str:
    return f"{subject} {'were' if subject in _PLURAL else 'was'}"


def _opinion(rng: random.Random, subjects: tuple[str, ...], polarity: int) -> str:
    """One clause whose effective polarity is `polarity` (+1/-1), built plainly, negated or contrasted."""
    words = {1: POSITIVE, -1: NEGATIVE}
    subject = rng.choice(subjects)
    form = rng.random()
    if form < 0.4:
        return f"{_was(subject)} {rng.choice(words[polarity])}"
    if form < 0.7:
        return f"{_was(subject)} not {rng.choice(words[-polarity])}"
    other = rng.choice([s for s in subjects if s != subject])
    first = f"{_was(other)} {rng.choice(words[-polarity])}"
    second = (
        f"{_was(subject)} {rng.choice(words[polarity])}"
        if rng.random() < 0.6
        else f"{_was(subject)} not {rng.choice(words[-polarity])}"
    )
    return f"{first} , but {second}"


def generate_general_corpus(n_docs: int = 2000, seed: int = 0) -> list[str]:
    """Short everyday stories (dinners, trips, concerts, books, games, parties) for LM pretraining.

    Every opinion is followed by a consequence whose mood follows the same rules the reviews use
    (negation flips, the clause after "but" wins), so predicting the next word teaches the LM to track
    sentiment through word order.
    """
    if n_docs < 1:
        raise ValueError(f"n_docs must be >= 1, got {n_docs}")
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        topic = rng.choice(sorted(_TOPICS))
        subjects = _TOPICS[topic]
        polarity = rng.choice((1, -1))  # one mood per story, as in a review
        sentences = [f"we went to a {topic} {rng.choice(_WHEN)} with {rng.choice(_PEOPLE)} ."]
        for _ in range(rng.randint(2, 4)):
            mood = rng.choice(_HAPPY if polarity > 0 else _SAD)
            sentences.append(f"{_opinion(rng, subjects, polarity)} , so I was {mood} .")
        sentences.append(f"in the end {rng.choice(_GOOD_END if polarity > 0 else _BAD_END)} .")
        docs.append(" ".join(_capitalise(s) for s in sentences))
    return docs


def generate_review_corpus(n_docs: int = 1000, seed: int = 0) -> tuple[list[str], list[str]]:
    """Movie reviews labelled "positive"/"negative", half of each, in shuffled order.

    A review holds zero to two neutral filler sentences and two or three opinions about parts of the
    film, all of the review's polarity, each said plainly ("the acting was superb"), negated ("the plot
    was not dull") or as a contrast whose second clause wins ("the music was lovely , but the ending was
    awful"). Negations hold the opposite word and contrasts one word of each polarity.
    """
    if n_docs < 1:
        raise ValueError(f"n_docs must be >= 1, got {n_docs}")
    rng = random.Random(seed)
    texts, labels = [], []
    for index in range(n_docs):
        label = 1 if index % 2 == 0 else -1
        sentences = [
            rng.choice(_FILLER).format(when=rng.choice(_WHEN), person=rng.choice(_PEOPLE))
            for _ in range(rng.randint(0, 2))
        ]
        for _ in range(rng.randint(2, 3)):
            sentences.insert(rng.randint(0, len(sentences)), f"{_opinion(rng, _MOVIE_PARTS, label)} .")
        texts.append(" ".join(_capitalise(s) for s in sentences))
        labels.append("positive" if label > 0 else "negative")
    order = list(range(n_docs))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


# ---- a generic pretraining corpus: its own words and structure, nothing of the reviews ---------------------

_PLACES = (
    "Aldermoor",
    "Brackwell",
    "Corrin",
    "Dunharrow",
    "Elsby",
    "Fenwick",
    "Garrow",
    "Halden",
    "Ivelstead",
)
_REGIONS = (
    "the northern valley",
    "the eastern coast",
    "the upper plain",
    "the river delta",
    "the western hills",
)
_THINGS = ("bridge", "railway station", "library", "canal", "lighthouse", "market hall", "harbour", "mill")
_MATERIALS = ("stone", "brick", "timber", "iron", "granite", "concrete")
_ROLES = ("engineer", "mayor", "architect", "merchant", "surveyor", "historian", "bishop", "governor")
_SURNAMES = ("Ashby", "Blythe", "Carver", "Denholm", "Ellery", "Forbes", "Grayson", "Hartley", "Ingram")
_ACTIONS = ("built", "rebuilt", "extended", "restored", "designed", "opened", "enlarged")
_UNITS = ("metres long", "metres high", "kilometres from the coast", "hectares in area")


def generate_plain_corpus(n_docs: int = 2000, seed: int = 0) -> list[str]:
    """Short encyclopedia-like articles about invented towns and their buildings, for LM pretraining
    offline (when no WikiText is cached).

    The corpus has its own vocabulary and structure: places, dates, people, materials and sizes in
    factual sentences. It shares no generator, word list or rule with `generate_review_corpus` (no
    opinion words, no negation, no contrast), so it gives a model pretrained on it nothing that a
    review task could use beyond English-like word order and the few function words they share.
    """
    if n_docs < 1:
        raise ValueError(f"n_docs must be >= 1, got {n_docs}")
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        place, thing = rng.choice(_PLACES), rng.choice(_THINGS)
        year = rng.randint(1650, 1990)
        person = f"{rng.choice(_ROLES)} {rng.choice(_SURNAMES)}"
        sentences = [
            f"{place} is a town in {rng.choice(_REGIONS)} .",
            f"its {thing} was {rng.choice(_ACTIONS)} in {year} by the {person} .",
        ]
        for _ in range(rng.randint(1, 4)):
            form = rng.random()
            if form < 0.3:
                sentences.append(f"the {thing} is {rng.randint(3, 900)} {rng.choice(_UNITS)} .")
            elif form < 0.6:
                later = year + rng.randint(5, 60)
                sentences.append(
                    f"in {later} it was {rng.choice(_ACTIONS)} in {rng.choice(_MATERIALS)} "
                    f"by the {rng.choice(_ROLES)} {rng.choice(_SURNAMES)} ."
                )
            elif form < 0.8:
                sentences.append(
                    f"the population of {place} was {rng.randint(2, 90) * 100} in {rng.randint(1800, 2000)} ."
                )
            else:
                sentences.append(f"a second {rng.choice(_THINGS)} stands near {rng.choice(_PLACES)} .")
        docs.append(" ".join(_capitalise(s) for s in sentences))
    return docs
