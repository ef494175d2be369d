"""The datasets cardlab knows how to fetch: where they live, how big they are, how to check them.

Sizes and checksums are the published ones:
- fastai's `fastai/data/checks.txt` lists, for each archive behind its `URLs`, the byte size and the md5 of
  the archive's first MiB (`hashlib.md5(f.read(2**20))`); for archives under 1 MiB that is the whole file.
- fastai's pretrained WT103 language model (`URLs.WT103_FWD`) is not in fastai 2's checks.txt; its figures
  are fastai 1's `_checks` (`fastai/datasets.py` in fastai/fastai1), the same first-MiB md5 scheme.
- MovieLens-100k: byte size and sha256 as recorded by TensorFlow Datasets
  (`tensorflow_datasets/url_checksums/movielens.txt`); GroupLens publishes the md5 `ml-100k.zip.md5`.

An entry with neither a sha256 nor a first-MiB md5 is checked by size only, and says so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from urllib.parse import urlparse

HEAD_BYTES = 2**20  # fastai's checks hash this many leading bytes of an archive

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")

IMDB_LICENSE = (
    "Large Movie Review Dataset v1.0 (Maas et al. 2011, 'Learning Word Vectors for Sentiment Analysis', "
    "ACL 2011). Reviews from IMDb, published for research without an explicit license: research use, "
    "cite the paper."
)
WIKITEXT_LICENSE = (
    "CC BY-SA 3.0 (Merity et al. 2016, 'Pointer Sentinel Mixture Models'); text from Wikipedia. "
    "Share derived text alike and credit the authors."
)
ADULT_LICENSE = (
    "CC BY 4.0 (UCI Machine Learning Repository, Becker & Kohavi 1996, 'Adult'). Credit the source."
)
WT103_MODEL_LICENSE = (
    "fastai model zoo: the AWD-LSTM weights published with fastai (Apache-2.0), trained on WikiText-103 "
    "(CC BY-SA 3.0, Merity et al. 2016; text from Wikipedia). Credit fastai and the WikiText authors; "
    "share derived work alike."
)
GROUPLENS_LICENSE = (
    "GroupLens research licence: research use only, no redistribution, no commercial use without "
    "permission; cite Harper & Konstan 2015, 'The MovieLens Datasets: History and Context' (ACM TiiS)."
)


@dataclass(frozen=True)
class Dataset:
    """One downloadable archive and what it must contain once extracted."""

    name: str  # what users type: `cardlab data fetch NAME`, `--data NAME`
    title: str
    url: str  # canonical public URL of the archive
    size: int  # archive size in bytes
    sha256: str | None  # full-archive sha256, when one is published
    head_md5: str | None  # md5 of the archive's first MiB, as fastai publishes it
    license_name: str  # short form for tables
    license: str  # full text shown before a download
    folder: str  # folder the archive extracts to (its top-level member)
    markers: tuple[str, ...]  # paths, relative to `folder`, the readers need
    description: str

    @property
    def archive_name(self) -> str:
        return urlparse(self.url).path.rsplit("/", 1)[-1]

    @property
    def check_kind(self) -> str:
        """The strongest check this entry allows: "sha256", "head-md5" or "size-only"."""
        if self.sha256:
            return "sha256"
        if self.head_md5:
            return "head-md5"
        return "size-only"


def describe_check(kind: str) -> str:
    return {
        "sha256": "size + sha256",
        "head-md5": "size + md5 of the first MiB (fastai's published check)",
        "size-only": "size-only (no published hash)",
    }[kind]


_FASTAI_NLP = "https://s3.amazonaws.com/fast-ai-nlp/"
_FASTAI_SAMPLE = "https://s3.amazonaws.com/fast-ai-sample/"
_FASTAI_MODELS = "https://s3.amazonaws.com/fast-ai-modelzoo/"

_ENTRIES = (
    Dataset(
        name="imdb",
        title="IMDb Large Movie Review Dataset",
        url=_FASTAI_NLP + "imdb.tgz",
        size=144_440_600,
        sha256=None,
        head_md5="90f9b1c4ff43a90d67553c9240dc0249",
        license_name="research use (Maas et al. 2011)",
        license=IMDB_LICENSE,
        folder="imdb",
        markers=("train/pos", "train/neg", "test/pos", "test/neg"),
        description="50k labelled + 50k unlabelled movie reviews, one .txt per review (fastai's URLs.IMDB)",
    ),
    Dataset(
        name="imdb_sample",
        title="IMDb sample",
        url=_FASTAI_SAMPLE + "imdb_sample.tgz",
        size=571_827,
        sha256=None,
        head_md5="0842e61a9867caa2e6fbdb14fa703d61",
        license_name="research use (Maas et al. 2011)",
        license=IMDB_LICENSE,
        folder="imdb_sample",
        markers=("texts.csv",),
        description="1,000 reviews in texts.csv: label,text,is_valid (fastai's URLs.IMDB_SAMPLE)",
    ),
    Dataset(
        name="wikitext-2",
        title="WikiText-2",
        url=_FASTAI_NLP + "wikitext-2.tgz",
        size=4_070_055,
        sha256=None,
        head_md5="2a82d47a7b85c8b6a8e068dc4c1d37e7",
        license_name="CC BY-SA 3.0",
        license=WIKITEXT_LICENSE,
        folder="wikitext-2",
        markers=("train.csv", "test.csv"),
        description="2M-token Wikipedia corpus, articles in train.csv / test.csv (fastai's URLs.WIKITEXT_TINY)",
    ),
    Dataset(
        name="wikitext-103",
        title="WikiText-103",
        url=_FASTAI_NLP + "wikitext-103.tgz",
        size=190_200_704,
        sha256=None,
        head_md5="2dd8cf8693b3d27e9c8f0a7df054b2c7",
        license_name="CC BY-SA 3.0",
        license=WIKITEXT_LICENSE,
        folder="wikitext-103",
        markers=("train.txt", "valid.txt", "test.txt"),
        description="103M-token Wikipedia corpus, the language-model pretraining set (fastai's URLs.WIKITEXT)",
    ),
    Dataset(
        name="wt103-fwd",
        title="fastai AWD-LSTM pretrained on WikiText-103",
        url=_FASTAI_MODELS + "wt103-fwd.tgz",
        size=105_067_061,
        sha256=None,
        head_md5="7d1114cd9684bf9d1ca3c9f6a54da6f9",
        license_name="Apache-2.0 weights, CC BY-SA 3.0 data",
        license=WT103_MODEL_LICENSE,
        folder="wt103-fwd",
        markers=("lstm_fwd.pth", "itos_wt103.pkl"),
        description="forward AWD-LSTM language model 400/1152/3 and its vocab (fastai's URLs.WT103_FWD)",
    ),
    Dataset(
        name="adult_sample",
        title="Adult census income (sample)",
        url=_FASTAI_SAMPLE + "adult_sample.tgz",
        size=968_212,
        sha256=None,
        head_md5="64eb9d7e23732de0b138f7372d15492f",
        license_name="CC BY 4.0",
        license=ADULT_LICENSE,
        folder="adult_sample",
        markers=("adult.csv",),
        description="32,561 rows, 15 columns, target `salary` (fastai's URLs.ADULT_SAMPLE)",
    ),
    Dataset(
        name="movie_lens_sample",
        title="MovieLens sample",
        url=_FASTAI_SAMPLE + "movie_lens_sample.tgz",
        size=51_790,
        sha256=None,
        head_md5="10961384dfe7c5181460390a460c1f77",
        license_name="GroupLens research, no redistribution",
        license=GROUPLENS_LICENSE,
        folder="movie_lens_sample",
        markers=("ratings.csv",),
        description="6,031 ratings of 100 movies by 100 users in ratings.csv (fastai's URLs.ML_SAMPLE)",
    ),
    Dataset(
        name="ml-100k",
        title="MovieLens 100K",
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        size=4_924_029,
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        head_md5="39f6af2d7ea4e117f8838e4a302fec70",
        license_name="GroupLens research, no redistribution",
        license=GROUPLENS_LICENSE,
        folder="ml-100k",
        markers=("u.data", "u.item", "u.user"),
        description="100,000 ratings (1-5) of 1,682 movies by 943 users, with movie and user metadata",
    ),
)

# The table every command reads. Tests swap entries (local URLs, small archives) through `monkeypatch`.
CATALOG: dict[str, Dataset] = {entry.name: entry for entry in _ENTRIES}


class DatasetError(Exception):
    """Anything that stops a dataset from being fetched, verified or found; the message says what to do."""


class UnknownDataset(DatasetError):
    """A name that is not in the catalog; carries close matches for a did-you-mean."""

    def __init__(self, name: str, suggestions: list[str], *, also: str = "") -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown dataset {name!r}{also}.{hint} Known: {', '.join(sorted(CATALOG))}.")


def suggest(name: str) -> list[str]:
    lowered = {known.lower(): known for known in CATALOG}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=2, cutoff=0.6)
    prefix = [known for low, known in lowered.items() if name and low.startswith(name.lower())]
    return list(dict.fromkeys([lowered[m] for m in matches] + prefix))[:3]


def get(name: str) -> Dataset:
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownDataset(name, suggest(name)) from None


def looks_well_formed(entry: Dataset) -> list[str]:
    """Problems with an entry's recorded facts (empty when it is sound)."""
    problems = []
    if entry.size <= 0:
        problems.append("size must be positive")
    if entry.sha256 is not None and not _HEX64.fullmatch(entry.sha256):
        problems.append("sha256 must be 64 lowercase hex digits")
    if entry.head_md5 is not None and not _HEX32.fullmatch(entry.head_md5):
        problems.append("head_md5 must be 32 lowercase hex digits")
    if not entry.markers:
        problems.append("at least one layout marker is needed")
    if any(m.startswith("/") or ".." in m.split("/") for m in entry.markers):
        problems.append("markers must be relative paths inside the folder")
    return problems


def format_size(n_bytes: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} B"
