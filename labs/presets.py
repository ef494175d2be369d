"""The run sizes every lab has, in their own module: the CLI builds its `--preset` choices from these at
start-up, and importing `labs.info` (and its parameter checks) there would cost studying time."""

PRESET_NAMES = ("smoke", "quick", "full")
DEFAULT_PRESET = "quick"
