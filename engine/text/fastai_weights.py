"""fastai's published AWD-LSTM language model (WikiText-103, catalog name `wt103-fwd`) in the engine's model.

    model, itos = load_fastai_lm(dataset_path("wt103-fwd", home))   # a folder with one .pth and one .pkl
    model.eval(); model.reset(); logits = model(ids)                 # fastai's logits, [bs, seq, len(itos)]

The folder holds fastai's state dict (`*.pth`, possibly wrapped as {"model": ..., "opt": ...}) and its
vocabulary (`*.pkl`, a pickled list of str). Both are untrusted input: the .pth is read with
`torch.load(weights_only=True)`, the .pkl with an unpickler that refuses every global (a list of str needs
none), so a crafted file cannot run code.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from engine.text.awd_lstm import AWDLSTMConfig, AWDLSTMLanguageModel, config_from_state_dict

StateDict = dict[str, Tensor]


class FastaiCheckpointError(ValueError):
    """A fastai checkpoint folder that cannot be read into the engine's AWD-LSTM; the message says why."""


# fastai key -> engine key: the model's own, then each LSTM layer's (`0.rnns.{i}.<key>` -> `encoder.rnns.{i}.<key>`).
_MODEL_KEYS = {
    "0.encoder.weight": "encoder.embedding.weight",
    "1.decoder.weight": "decoder.linear.weight",
    "1.decoder.bias": "decoder.linear.bias",
}
_LAYER_KEYS = {
    "weight_hh_l0_raw": "module.weight_hh_l0",  # WeightDropout's raw matrix: the real weight
    "module.weight_ih_l0": "module.weight_ih_l0",
    "module.bias_ih_l0": "module.bias_ih_l0",
    "module.bias_hh_l0": "module.bias_hh_l0",
}
# The embedding again (under EmbeddingDropout), and the copy of weight_hh that older fastai saved.
_IGNORED = re.compile(r"0\.encoder_dp\.emb\.weight|0\.rnns\.\d+\.module\.weight_hh_l0")
_LAYER_KEY = re.compile(r"0\.rnns\.(\d+)\.(.+)")


# ---- reading the two files -----------------------------------------------------------------------------


def _one_file(folder: Path, suffix: str, what: str) -> Path:
    found = sorted(folder.glob(f"*{suffix}"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise FastaiCheckpointError(
            f"{folder}: a fastai checkpoint folder holds exactly one {suffix} file ({what}); found {names}"
        )
    return found[0]


def is_fastai_folder(path: str | Path) -> bool:
    """A folder that looks like fastai's layout: it holds a .pth or a .pkl (whether or not it is sound)."""
    path = Path(path).expanduser()
    return path.is_dir() and (any(path.glob("*.pth")) or any(path.glob("*.pkl")))


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Builds only pickle's own types (lists, str, numbers, ...): every class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(
            f"it asks for {module}.{name}; a vocabulary needs no classes or functions"
        )


def read_vocab(file: Path) -> list[str]:
    """The pickled token list, read without ever importing or calling anything the file names."""
    try:
        itos = _NoGlobalsUnpickler(io.BytesIO(file.read_bytes())).load()
    except Exception as err:  # untrusted bytes: any failure means "not a vocabulary", never a crash
        raise FastaiCheckpointError(f"{file.name}: not a plain pickled list of tokens ({err})") from None
    if not isinstance(itos, list) or not itos:
        raise FastaiCheckpointError(
            f"{file.name}: expected a non-empty list of tokens, got {type(itos).__name__}"
        )
    bad = next((t for t in itos if not isinstance(t, str)), None)
    if bad is not None:
        raise FastaiCheckpointError(f"{file.name}: every token must be a str, found {type(bad).__name__}")
    return itos


class _DiscardedOptimizerState:
    """Stands in for fastcore's `L` in the optimizer state fastai 2 saves next to the model; built empty, it
    keeps nothing of what the file holds (the optimizer state is never used)."""

    def __setstate__(self, state: object) -> None:
        del state


# fastai 2's `learn.save` (`save_model(with_opt=True)`) pickles the optimizer's hypers as fastcore `L`s, which
# weights_only refuses. Only that one name is let through, as the inert stand-in: no fastcore, no trust needed.
_FASTAI_OPT_STAND_INS = [(_DiscardedOptimizerState, "fastcore.foundation.L")]


def _load_checkpoint(file: Path) -> Any:
    safe_globals = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    allowed = safe_globals(_FASTAI_OPT_STAND_INS) if safe_globals else contextlib.nullcontext()
    with allowed:
        return torch.load(file, map_location="cpu", weights_only=True)


def _load_failure(err: Exception) -> str:
    """torch's reason in one line; its weights_only refusal (pages long, suggesting to trust the file) is cut
    down to the name it refused."""
    refused = re.search(r"GLOBAL (\S+) was not an allowed global", str(err))
    if refused:
        return f"it asks for {refused.group(1)}, and the file is read without running any of its code"
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def read_state(file: Path) -> StateDict:
    """fastai's state dict from a .pth, unwrapped from {"model": ..., "opt": ...} when saved that way."""
    try:
        state = _load_checkpoint(file)
    except Exception as err:  # weights_only refuses anything but tensors and plain containers
        raise FastaiCheckpointError(
            f"{file.name}: not a readable weights file ({_load_failure(err)})"
        ) from None
    if isinstance(state, Mapping) and isinstance(state.get("model"), Mapping):
        state = state["model"]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise FastaiCheckpointError(f"{file.name}: expected a state dict of tensors")
    return dict(state)


# ---- fastai's keys to the engine's ---------------------------------------------------------------------


def convert_state(fastai_state: Mapping[str, Tensor]) -> StateDict:
    """fastai's `get_language_model(AWD_LSTM, ...)` state dict under the engine model's keys."""
    converted: StateDict = {}
    unknown = []
    for key, tensor in fastai_state.items():
        engine_key = _engine_key(key)
        if engine_key is not None:
            converted[engine_key] = tensor
        elif not _IGNORED.fullmatch(key):
            unknown.append(key)
    if unknown:
        raise FastaiCheckpointError(
            f"unexpected keys {unknown[:5]}: not a unidirectional AWD-LSTM language model in fastai's layout"
        )
    _check_complete(converted)
    return converted


def _engine_key(key: str) -> str | None:
    if key in _MODEL_KEYS:
        return _MODEL_KEYS[key]
    match = _LAYER_KEY.fullmatch(key)
    if match and match.group(2) in _LAYER_KEYS:
        return f"encoder.rnns.{match.group(1)}.{_LAYER_KEYS[match.group(2)]}"
    return None


def _check_complete(converted: StateDict) -> None:
    layers = {int(k.split(".")[2]) for k in converted if k.startswith("encoder.rnns.")}
    n_layers = max(layers, default=-1) + 1
    expected = ["encoder.embedding.weight", "decoder.linear.weight"]
    expected += [f"encoder.rnns.{i}.{name}" for i in range(n_layers) for name in _LAYER_KEYS.values()]
    missing = [_fastai_key(k) for k in expected if k not in converted]
    if missing or n_layers == 0:
        raise FastaiCheckpointError(f"missing keys {missing[:6] or ['0.rnns.0.*']} in fastai's layout")


def _fastai_key(engine_key: str) -> str:
    for fastai, engine in _MODEL_KEYS.items():
        if engine == engine_key:
            return fastai
    layer, name = engine_key.split(".", 3)[2:]
    return f"0.rnns.{layer}.{next(f for f, e in _LAYER_KEYS.items() if e == name)}"


# ---- the whole folder ----------------------------------------------------------------------------------


def read_fastai_checkpoint(folder: str | Path) -> tuple[StateDict, list[str]]:
    """(state dict under the engine's keys, itos) from a fastai folder, the vocab checked against the rows."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FastaiCheckpointError(f"{folder}: not a folder")
    state = convert_state(read_state(_one_file(folder, ".pth", "the weights")))
    itos = read_vocab(_one_file(folder, ".pkl", "the vocabulary"))
    rows = state["encoder.embedding.weight"].shape[0]
    if len(itos) != rows:
        raise FastaiCheckpointError(
            f"{folder}: the vocabulary has {len(itos)} tokens but the embedding has {rows} rows"
        )
    return state, itos


def load_fastai_lm(
    folder: str | Path, config: AWDLSTMConfig | None = None
) -> tuple[AWDLSTMLanguageModel, list[str]]:
    """fastai's AWD-LSTM language model from `folder` (one .pth, one .pkl) as the engine's model, and its itos.

    `config`: the sizes to expect (`AWDLSTMConfig.lesson()` for the published WT103 model); None reads them
    from the tensors. Dropouts come from `config` (default: the lesson's); eval mode uses none of them.
    """
    state, itos = read_fastai_checkpoint(folder)
    found = config_from_state_dict(state, base=config)
    if config is not None and found != config:
        raise FastaiCheckpointError(
            f"the checkpoint is {describe_sizes(found)}, the config {describe_sizes(config)}"
        )
    model = AWDLSTMLanguageModel(len(itos), found)
    _check_shapes(state, model.state_dict())
    model.load_state_dict(state)
    return model, itos


def describe_sizes(config: AWDLSTMConfig) -> str:
    tied = "tied" if config.tie_weights else "untied"
    bias = "with" if config.out_bias else "without"
    return (
        f"emb_sz {config.emb_sz} / n_hid {config.n_hid} / {config.n_layers} layers "
        f"({tied} decoder, {bias} output bias)"
    )


def _check_shapes(state: StateDict, expected: Mapping[str, Tensor]) -> None:
    wrong = [
        f"{_fastai_key(key)} is {tuple(state[key].shape)}, expected {tuple(want.shape)}"
        for key, want in expected.items()
        if key in state and state[key].shape != want.shape
    ]
    if wrong:
        raise FastaiCheckpointError("wrong shapes: " + "; ".join(wrong[:4]))
