"""The model store: language models and encoders made once and reused, as the lesson's notebooks reuse
the WikiText-103 model and `fine_tuned_enc`.

    <home cache>/models/<name>.pth     the weights (written by engine.text's save functions, atomically)
    <home cache>/models/<name>.json    what they are: corpus, tokens seen, config, vocab size, validation
                                       perplexity and accuracy, seed, when and by which cardlab version

The `.json` is written after the `.pth`, so an entry without one was never finished and is not listed.
Listing and showing read only the JSON: torch-free, like the rest of labs' metadata.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labs.errors import LabError
from labs.files import write_atomic
from labs.launch import process_rank

GENERAL_LM = "general-lm"  # the general language model (WikiText, or generated text offline); see _ulmfit
FINE_TUNED_ENC = "fine_tuned_enc"  # the lesson's name for the encoder of the LM fine-tuned on the reviews
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class ModelNotFound(LabError):
    """No finished entry of that name in the store; the message lists what is there."""


@dataclass
class ModelEntry:
    name: str
    kind: str  # "language model" or "encoder"
    corpus: str  # what it was trained on, in words
    tokens_seen: int  # training tokens over all epochs (pretraining and fine-tuning counted separately)
    config: dict[str, Any]  # the AWD-LSTM sizes
    vocab_size: int
    valid_perplexity: float | None
    valid_accuracy: float | None
    seed: int
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    cardlab_version: str = ""
    parent: str | None = None  # the entry it was fine-tuned from
    seconds: float = 0.0  # training time
    eta_seconds: float = 0.0  # what the ETA, measured from the first batches, predicted for it

    def describe(self) -> str:
        """One line for a lab to say which model it uses."""
        ppl = f", valid perplexity {self.valid_perplexity:.2f}" if self.valid_perplexity else ""
        return f"{self.name!r} ({self.kind} on {self.corpus}{ppl}, made {self.created})"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cardlab")
    except PackageNotFoundError:
        return "unknown"


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_home(cls, home: Any) -> ModelStore:
        return cls(Path(home.cache_dir) / "models")

    def weights_path(self, name: str) -> Path:
        check_name(name)
        return self.root / f"{name}.pth"

    def _meta_path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def list(self) -> list[ModelEntry]:
        entries = []
        for meta in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            entry = self._read(meta)
            if entry is not None and self.weights_path(entry.name).is_file():
                entries.append(entry)
        return entries

    def find(self, name: str) -> ModelEntry | None:
        meta = self._meta_path(name)
        entry = self._read(meta) if meta.is_file() else None
        return entry if entry is not None and self.weights_path(name).is_file() else None

    def get(self, name: str) -> ModelEntry:
        entry = self.find(name)
        if entry is None:
            names = [e.name for e in self.list()]
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            there = ", ".join(names) if names else "none yet (`cardlab models pretrain` makes one)"
            raise ModelNotFound(f"no model {name!r} in the store{hint} Models: {there}")
        return entry

    def record(self, entry: ModelEntry) -> ModelEntry:
        """Publish an entry whose weights are already at `weights_path(entry.name)`. In a distributed run
        rank 0 alone writes it (as it alone saved the weights)."""
        entry.cardlab_version = entry.cardlab_version or _version()
        if process_rank() != 0:
            return entry
        if not self.weights_path(entry.name).is_file():
            raise FileNotFoundError(f"save the weights of {entry.name!r} before recording it")
        write_atomic(self._meta_path(entry.name), json.dumps(asdict(entry), indent=2) + "\n")
        return entry

    def remove(self, name: str) -> ModelEntry | DamagedModel:
        """Remove an entry, or a damaged one (`damaged()`) by its file name's stem."""
        damaged = next((bad for bad in self.damaged() if bad.name == name), None)
        if damaged is not None:
            damaged.path.unlink(missing_ok=True)
            self.root.joinpath(f"{damaged.name}.pth").unlink(missing_ok=True)
            return damaged
        entry = self.get(name)
        self._meta_path(name).unlink(missing_ok=True)  # unlisted first: a half-removed entry is invisible
        self.weights_path(name).unlink(missing_ok=True)
        return entry

    def damaged(self) -> tuple[DamagedModel, ...]:
        """Metadata files that do not read as an entry of their own name (never listed nor loaded)."""
        metas = sorted(self.root.glob("*.json")) if self.root.is_dir() else []
        return tuple(
            DamagedModel(meta.stem, meta, _damage(meta))
            for meta in metas
            if _NAME.match(meta.stem) and self._read(meta) is None
        )

    @staticmethod
    def _read(meta: Path) -> ModelEntry | None:
        """The entry in `meta`, or None when it does not read as one, or names another file (a name is
        checked when read: it becomes a path)."""
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            entry = ModelEntry(**data)
        except (OSError, ValueError, TypeError, RecursionError):
            return None
        if not isinstance(entry.name, str) or not _NAME.match(entry.name) or entry.name != meta.stem:
            return None
        return entry


@dataclass(frozen=True)
class DamagedModel:
    """A metadata file of the store that cannot be used; `cardlab models rm NAME` removes it."""

    name: str  # its file name's stem
    path: Path
    reason: str


def _damage(meta: Path) -> str:
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        return f"unreadable: {error}"
    if not isinstance(data, dict):
        return "not a JSON object"
    name = data.get("name")
    if name != meta.stem:
        return f"its name {name!r} is not its file's ({meta.stem!r})"
    return "fields missing or unknown"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise LabError(f"model name {name!r}: use letters, digits, '.', '_' and '-' (at most 100)")
    return name


def sized_name(base: str, config: dict[str, Any], default: dict[str, Any]) -> str:
    """`base` for the labs' default sizes, `base-64x128x2` for others: a store entry per size."""
    if all(config.get(k) == default.get(k) for k in ("emb_sz", "n_hid", "n_layers")):
        return base
    return f"{base}-{config['emb_sz']}x{config['n_hid']}x{config['n_layers']}"
