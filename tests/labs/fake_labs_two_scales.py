"""The two-scales test lab's module: `load_run_function` looks for `run` by name."""

from tests.labs.fake_labs import run_two_scales as run

__all__ = ["run"]
