"""Where cardlab keeps its state.

All state lives under one `Home`: the platformdirs folders by default, or one folder given by
`--home DIR` / `CARDLAB_HOME` (tests always use a temporary one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "CARDLAB_HOME"
APP_NAME = "cardlab"


@dataclass(frozen=True)
class Home:
    """Where cardlab keeps its state: the data, config and cache folders."""

    data_dir: Path  # review store, user packs, saved lab runs
    config_dir: Path  # config.toml
    cache_dir: Path  # downloaded datasets, lab artifacts

    @classmethod
    def at(cls, root: str | os.PathLike[str]) -> Home:
        root = Path(root).expanduser().resolve()
        return cls(data_dir=root / "data", config_dir=root / "config", cache_dir=root / "cache")

    @classmethod
    def default(cls) -> Home:
        import platformdirs

        return cls(
            data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
            config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
            cache_dir=Path(platformdirs.user_cache_dir(APP_NAME)),
        )

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Home:
        """`--home` wins, then `CARDLAB_HOME`, then the platform's folders."""
        chosen = home or os.environ.get(HOME_ENV)
        return cls.at(chosen) if chosen else cls.default()

    @property
    def packs_dir(self) -> Path:
        return self.data_dir / "packs"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "reviews.sqlite3"

    @property
    def config_path(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def datasets_dir(self) -> Path:
        return self.cache_dir / "datasets"

    def ensure(self) -> Home:
        for folder in (self.data_dir, self.config_dir, self.cache_dir, self.packs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self
