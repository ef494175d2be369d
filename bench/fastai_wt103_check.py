"""Check `engine.text.load_fastai_lm` against fastai itself. Last line of output: one JSON object.

    python bench/fastai_wt103_check.py --fastai-python ../fastai-venv/bin/python [--vocab 1000] [--keep DIR]

Run with the project's python. It starts the fastai venv's python on this same file (`--make DIR`, which
imports fastai and never the engine) to build `get_language_model(AWD_LSTM, V, awd_lstm_lm_config)` with
random weights (the decoder bias too, which fastai starts at zero), save it in the published wt103-fwd layout
(`lstm_fwd.pth` + `itos_wt103.pkl`: once a plain state dict, once wrapped with fastai's optimizer state by
`save_model(with_opt=True)`), and record fastai's eval-mode logits on random ids: two consecutive batches, the
second starting from the hidden state the first left. This part then loads each folder with
`load_fastai_lm(folder, AWDLSTMConfig.lesson())` and compares logits.

JSON keys: fastai and torch versions, vocab, ids shape, and per layout max_abs_diff, max_rel_diff (max |ours -
fastai| / max |fastai|), max_elementwise_rel_diff (|ours - fastai| / |fastai| over logits with |fastai| > 1e-3),
and ok (max_rel_diff <= 1e-4); control_stateless_second_batch: the same figures for our second batch run
from a zero state instead of the first batch's (it must not be ok: the check sees the carried state).
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = {"plain": False, "with_opt": True}  # folder name -> saved with fastai's optimizer state
BATCHES = 2


# ---- the fastai side (fastai venv) ----------------------------------------------------------------------


def make_reference(folder: Path, vocab: int, bs: int, seq: int, seed: int) -> None:
    from fastai.learner import save_model
    from fastai.optimizer import Adam
    from fastai.text.all import AWD_LSTM, awd_lstm_lm_config, defaults, get_language_model

    torch.manual_seed(seed)
    model = get_language_model(AWD_LSTM, vocab, config=awd_lstm_lm_config)
    torch.nn.init.normal_(model[1].decoder.bias, std=0.5)
    itos = list(defaults.text_spec_tok) + [f"tok{i}" for i in range(vocab - len(defaults.text_spec_tok))]
    for name, with_opt in LAYOUTS.items():
        out = folder / name
        out.mkdir(parents=True)
        opt = Adam(list(model.parameters()), lr=1e-3) if with_opt else None
        save_model(out / "lstm_fwd.pth", model, opt, with_opt=with_opt)
        (out / "itos_wt103.pkl").write_bytes(pickle.dumps(itos))
    ids = torch.randint(0, vocab, (BATCHES, bs, seq), generator=torch.Generator().manual_seed(seed + 1))
    torch.save({"ids": ids, "logits": fastai_logits(model, ids)}, folder / "reference.pt")
    import fastai

    meta = {"fastai": fastai.__version__, "torch": torch.__version__, "keys": list(model.state_dict())}
    (folder / "meta.json").write_text(json.dumps(meta))


def fastai_logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    model.eval()
    model.reset()
    with torch.no_grad():
        return torch.stack([model(batch)[0] for batch in ids])  # LinearDecoder: (logits, raw, dropped)


# ---- the engine side (project venv) ---------------------------------------------------------------------


def engine_logits(folder: Path, ids: torch.Tensor, carry_state: bool = True) -> torch.Tensor:
    sys.path.insert(0, str(ROOT))
    from engine.text import AWDLSTMConfig, load_fastai_lm

    model, _ = load_fastai_lm(folder, AWDLSTMConfig.lesson())
    model.eval()
    outputs = []
    with torch.no_grad():
        for index, batch in enumerate(ids):
            if index == 0 or not carry_state:
                model.reset()
            outputs.append(model(batch))
    return torch.stack(outputs)


def differences(ours: torch.Tensor, theirs: torch.Tensor) -> dict[str, float | bool]:
    diff = (ours - theirs).abs()
    big = theirs.abs() > 1e-3
    max_rel = float(diff.max() / theirs.abs().max())
    return {
        "max_abs_diff": float(diff.max()),
        "max_rel_diff": max_rel,
        "max_elementwise_rel_diff": float((diff[big] / theirs.abs()[big]).max()),
        "ok": max_rel <= 1e-4,
    }


def compare(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    make = [args.fastai_python, str(Path(__file__).resolve()), "--make", str(folder)]
    make += [
        "--vocab",
        str(args.vocab),
        "--bs",
        str(args.bs),
        "--seq",
        str(args.seq),
        "--seed",
        str(args.seed),
    ]
    subprocess.run(make, check=True)
    reference = torch.load(folder / "reference.pt", weights_only=True)
    meta = json.loads((folder / "meta.json").read_text())
    result: dict[str, object] = {
        "fastai": meta["fastai"],
        "fastai_torch": meta["torch"],
        "torch": torch.__version__,
        "vocab": args.vocab,
        "ids": list(reference["ids"].shape),
        "fastai_keys": len(meta["keys"]),
    }
    for name in LAYOUTS:
        result[name] = differences(engine_logits(folder / name, reference["ids"]), reference["logits"])
    # Control: the second batch from a zero state must not match fastai's, which carried the first's state.
    stateless = engine_logits(folder / "plain", reference["ids"], carry_state=False)
    result["control_stateless_second_batch"] = differences(stateless[1:], reference["logits"][1:])
    result["fastai_logits_abs_max"] = float(reference["logits"].abs().max())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fastai-python", help="the scratch venv's python, with fastai installed")
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)  # the fastai side, run by the other
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--bs", type=int, default=4)
    parser.add_argument("--seq", type=int, default=72)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the checkpoints here instead of a temporary folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.make is not None:
        make_reference(args.make, args.vocab, args.bs, args.seq, args.seed)
        return
    if not args.fastai_python:
        parser.error("--fastai-python is required")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        print(json.dumps(compare(args, args.keep)))
        return
    with tempfile.TemporaryDirectory(prefix="fastai-wt103-") as scratch:
        print(json.dumps(compare(args, Path(scratch))))


if __name__ == "__main__":
    main()
