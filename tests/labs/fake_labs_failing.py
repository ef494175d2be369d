"""The failing test lab's module: `load_run_function` looks for `run` by name."""

from tests.labs.fake_labs import run_failing as run

__all__ = ["run"]
