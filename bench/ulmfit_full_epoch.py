"""Benchmark: how long one epoch of the ULMFiT labs' `full` preset (the lesson's 400/1152/3 AWD-LSTM, its
recipe) takes on this machine, measured through the lab itself. Last line: one JSON object.

    python bench/ulmfit_full_epoch.py --data PATH/texts.csv [--pretrained FOLDER] [--seconds 120]
                                      [--lab ulmfit-lm] [--device auto]

`--pretrained` is a folder in fastai's layout (one .pth, one .pkl vocabulary), e.g. fastai's WT103 model
(`cardlab data fetch wt103-fwd`); without it, a randomly initialised lesson-size model is written in that
layout (speed does not depend on the weights). The lab runs for `--seconds`, then is cancelled; the time
per epoch is the training time so far divided by the steps done, times the steps of one epoch (the lab's
own progress events), so it holds for a full epoch only as far as the rate stays steady.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._openmp import sleeping_idle_threads  # noqa: E402

sleeping_idle_threads()  # before torch loads (see bench/_openmp.py)

from cards.paths import Home  # noqa: E402
from labs.events import Progress, StageStarted  # noqa: E402
from labs.registry import get_lab  # noqa: E402
from labs.runner import LabRun  # noqa: E402


def random_lesson_lm(folder: Path, data: Path) -> Path:
    """A lesson-size AWD-LSTM with random weights, saved under fastai's keys, vocab from `data`'s words."""
    import torch

    from engine.datasets.text import read_imdb_csv
    from engine.text import AWDLSTMConfig
    from engine.text.awd_lstm import AWDLSTMLanguageModel
    from engine.text.tokenizer import Tokenizer
    from engine.text.vocab import Vocab

    texts = read_imdb_csv(data).texts
    itos = Vocab.build(Tokenizer().tokenize_many(texts), min_freq=2).itos
    model = AWDLSTMLanguageModel(len(itos), AWDLSTMConfig.lesson())
    ours = model.state_dict()
    state = {
        "0.encoder.weight": ours["encoder.embedding.weight"],
        "1.decoder.weight": ours["decoder.linear.weight"],
        "1.decoder.bias": ours["decoder.linear.bias"],
    }
    state["0.encoder_dp.emb.weight"] = state["0.encoder.weight"].clone()
    for i in range(3):
        prefix = f"encoder.rnns.{i}.module."
        state[f"0.rnns.{i}.weight_hh_l0_raw"] = ours[prefix + "weight_hh_l0"]
        for name in ("weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):
            state[f"0.rnns.{i}.module.{name}"] = ours[prefix + name]
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / "lstm_fwd.pth")
    (folder / "itos_wt103.pkl").write_bytes(pickle.dumps(itos))
    return folder


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, object]:
    """Run the lab's full preset for `args.seconds` and the epoch time its progress implies. Exits with
    the lab's error when the run fails, and says so when it ends before two progress reports."""
    pretrained = args.pretrained or random_lesson_lm(scratch / "lesson-lm", args.data)
    home = Home.at(scratch / "home").ensure()
    run = LabRun(
        get_lab(args.lab),
        preset="full",
        device=args.device,
        data=str(args.data),
        home=home,
        overrides={"pretrained": str(pretrained)},
    )
    run.start()
    started, stage, first, last = time.perf_counter(), "", None, None
    for event in run.iter_events():
        if isinstance(event, StageStarted):
            stage = event.name
        if isinstance(event, Progress) and event.done:
            last = (event, time.perf_counter())
            first = first or last
        if time.perf_counter() - started > args.seconds:
            run.cancel()
            break
    run.join(timeout=60)
    if run.status == "failed":
        raise SystemExit(
            f"{args.lab} --preset full failed in its {stage or 'first'} stage: {run.record.error}"
        )
    if not (first and last and last[0].done > first[0].done):
        raise SystemExit(f"{args.lab} ended ({run.status}) before two progress reports: nothing to time")
    # The rate between the first and the last progress report: training steps only, no data preparation.
    per_step = (last[1] - first[1]) / (last[0].done - first[0].done)
    steps_per_epoch = last[0].total  # the first fit is one epoch (the frozen stage) in every ULMFiT lab
    return {
        "lab": args.lab,
        "stage": stage,
        "device": args.device,
        "data": str(args.data),
        "steps_done": last[0].done,
        "steps_per_epoch": steps_per_epoch,
        "seconds_per_step": round(per_step, 3),
        "seconds_per_epoch": round(per_step * steps_per_epoch, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--pretrained", type=Path)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--lab", default="ulmfit-lm")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="cardlab-full-"))
    try:
        report = measure(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the random lesson model alone is about 100 MB
    print(json.dumps(report))


if __name__ == "__main__":
    main()
