"""Distributed training (gloo on CPU, 2 processes): the same steps as one process, sharded loaders that
cover their data, rank 0 alone writes and reports, and a lost rank named within a bounded time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from engine.callbacks.progress import EventStream
from engine.data import TensorLoader
from engine.sharding import ShardedLMLoader, shard_loader
from engine.text import AWDLSTMConfig, language_model_learner, lm_data
from engine.text.data import LMDataLoader, SortedPadLoader
from tests.engine._dist import abs_error, dist_env, free_port, regression_learner, spawn

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    f"the film number {i} was {'good' if i % 2 else 'bad'} and the actors were fine ." for i in range(40)
]


def tiny_lm(path: Path):
    torch.manual_seed(0)
    data = lm_data(TEXTS, bs=4, bptt=6, valid_pct=0.2, seed=0, min_freq=1)
    data.train.shuffle = False  # the same document order as the one process (a shard shuffles from its seed)
    config = AWDLSTMConfig(emb_sz=8, n_hid=12, n_layers=1)
    return language_model_learner(data, config, drop_mult=0.0, mixed_precision=None, device="cpu", path=path)


def train_both(learn, lm, out: Path) -> dict[str, object]:
    events: list[object] = []
    learn.add_cb(EventStream(events.append))
    learn.fit(3)
    lm.fit(2, 1e-2)
    saved = learn.save("checkpoint")
    return {
        "losses": learn.recorder.losses,
        "rows": [{k: v for k, v in row.items() if k != "time"} for row in learn.recorder.rows],
        "weights": [p.detach().flatten().tolist() for p in learn.model.parameters()],
        "lm_losses": lm.recorder.losses,
        "lm_valid": [row["valid_loss"] for row in lm.recorder.rows],
        "events": len(events),
        "saved": saved.exists(),
    }


def _two_process_job(rank: int, out: Path) -> None:
    learn = regression_learner(bs=8, valid_bs=5, path=out / str(rank))
    learn.recorder.metrics = [__import__("engine.metrics").metrics.as_metric(abs_error)]
    lm = tiny_lm(out / str(rank))
    with learn.distributed(timeout=60), lm.distributed():
        result = train_both(learn, lm, out)
    (out / f"rank{rank}.json").write_text(json.dumps(result))


def test_two_processes_take_the_one_process_steps(tmp_path: Path) -> None:
    """Global batch 8 on 2 ranks (4 rows each) gives the 1-process batch-8 loss curve, weights, validation
    (21 rows in batches of 5: uneven shards, all-reduced) and LM curve (hidden state per rank)."""
    learn = regression_learner(bs=8, valid_bs=5, path=tmp_path / "single")
    learn.recorder.metrics = [__import__("engine.metrics").metrics.as_metric(abs_error)]
    single = train_both(learn, tiny_lm(tmp_path / "single"), tmp_path)
    spawn(_two_process_job, 2, tmp_path)
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert len(rank0["losses"]) == len(single["losses"]) == 18
    np.testing.assert_allclose(rank0["losses"], single["losses"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rank1["losses"], single["losses"], rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(rank0["rows"], single["rows"]):
        assert mine.keys() == theirs.keys()
        np.testing.assert_allclose(list(mine.values()), list(theirs.values()), rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(rank0["weights"], single["weights"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(rank0["lm_losses"], single["lm_losses"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(rank0["lm_valid"], single["lm_valid"], rtol=1e-4, atol=1e-5)
    assert rank0["events"] == single["events"] > 0 and rank1["events"] == 0  # rank 0 alone reports
    assert rank0["saved"] and not rank1["saved"]  # and alone writes the checkpoint


def test_lm_stream_gives_each_token_to_one_rank_once_per_epoch() -> None:
    docs = [np.arange(start, start + 37) for start in range(0, 37 * 9, 37)]  # every token id unique
    dl = LMDataLoader(docs, bs=6, bptt=5, shuffle=True, seed=3)
    shards = [ShardedLMLoader(dl, rank, 3, seed=11, train=True) for rank in range(3)]
    for _epoch in range(2):
        batches = [list(shard) for shard in shards]
        assert len({len(b) for b in batches}) == 1 and len(batches[0]) == len(dl)  # the same batch count
        per_rank = [torch.cat([x for x, _ in b], dim=1) for b in batches]
        assert all(rows.shape[0] == 2 for rows in per_rank)  # 6 rows / 3 ranks
        seen = torch.cat([rows.flatten() for rows in per_rank])
        assert len(seen) == dl.tokens_per_epoch and len(set(seen.tolist())) == len(seen)  # each token once
        stream = torch.cat([rows.flatten() for rows in per_rank])  # rank 0's rows, then rank 1's, ...
        np.testing.assert_array_equal(np.diff(stream.numpy()[: dl.row_len]) != 0, True)
        single = torch.cat([x for x, _ in dl.iter_rows(0, 6, seed=11 + _epoch)], dim=1)
        torch.testing.assert_close(torch.cat(per_rank), single)  # rows r*b.. of the one-process stream


def _covered(shards: list, epoch_rows: int) -> list[list[int]]:
    """Per batch position, the rows every rank got (rank 0's, then rank 1's)."""
    batches = [list(shard) for shard in shards]
    assert len({len(b) for b in batches}) == 1  # every rank runs the same number of batches
    return [
        sorted(int(v) for rank in batches for v in rank[i][0].flatten().tolist())
        for i in range(len(batches[0]))
    ]


def test_index_loaders_shard_one_shared_permutation_padded_evenly() -> None:
    x = torch.arange(10).float().unsqueeze(1)
    dl = TensorLoader(x, x, batch_size=4, shuffle=True)
    shards = [shard_loader(dl, rank, 2, seed=5, train=True) for rank in range(2)]
    expected = [sorted(b.tolist()) for b in dl.batch_indices(5)]
    got = _covered(shards, 10)
    assert got[:2] == expected[:2]  # each global batch is the 1-process batch of the shared order
    assert got[2] == sorted(expected[2])  # the last batch of 2 rows splits 1 + 1, no padding needed
    odd = TensorLoader(torch.arange(9).float(), torch.arange(9).float(), batch_size=4)
    rows = _covered([shard_loader(odd, rank, 2, seed=0, train=True) for rank in range(2)], 9)
    assert rows[-1] == [0, 8]  # the last row padded with the epoch's first: both ranks run 3 batches
    valid = [shard_loader(odd, rank, 2, seed=0, train=False) for rank in range(2)]
    seen = sorted(int(v) for shard in valid for x, _ in shard for v in x.tolist())
    assert seen == list(range(9))  # validation: each row exactly once, no padding
    with pytest.raises(ValueError, match="does not split evenly over 3 processes"):
        shard_loader(dl, 0, 3, seed=0, train=True)


def test_torch_and_classifier_loaders_shard_too() -> None:
    data = TensorDataset(torch.arange(12).float(), torch.arange(12))
    torch_dl = DataLoader(data, batch_size=4, shuffle=True)
    shards = [shard_loader(torch_dl, rank, 2, seed=1, train=True) for rank in range(2)]
    seen = [int(v) for shard in shards for x, _ in shard for v in x.tolist()]
    assert sorted(seen) == list(range(12)) and len(shards[0]) == len(shards[1]) == 3
    docs = [np.arange(2, n + 2) for n in range(3, 14)]  # 1 is the padding
    clas = SortedPadLoader(docs, [i % 2 for i in range(11)], bs=4, shuffle=True, seed=0)
    parts = [shard_loader(clas, rank, 2, seed=2, train=False) for rank in range(2)]
    lengths = sorted(int((x != 1).sum(dim=1)[i]) for part in parts for x, _ in part for i in range(len(x)))
    assert lengths == [len(d) for d in docs]


# ---- a lost rank ----------------------------------------------------------------------------------------

FOREVER = """
import sys, time, torch
from pathlib import Path
from engine.callbacks import Callback
from engine.distributed import DistributedError, rank
from tests.engine._dist import regression_learner

class Slow(Callback):
    def after_batch(self):
        Path(sys.argv[1], f"started{rank()}").touch()
        time.sleep(0.02)

learn = regression_learner(bs=8, valid_bs=8, path=sys.argv[1])
try:
    with learn.distributed():
        learn.fit(10_000, cbs=[Slow()])
except DistributedError as error:
    print(f"cardlab: {error}", file=sys.stderr)
    sys.exit(1)
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_a_lost_rank_stops_the_others_with_its_name(tmp_path: Path, how: signal.Signals) -> None:
    port = free_port()
    procs = []
    for rank in range(2):
        env = {**os.environ, **dist_env(rank, 2, port), "CARDLAB_DIST_TIMEOUT": "4", "PYTHONPATH": str(ROOT)}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", FOREVER, str(tmp_path)],
                env=env,
                cwd=ROOT,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 240  # starting up is slow on a busy machine; the 60 s is after the loss
        while not (tmp_path / "started1").exists() or not (tmp_path / "started0").exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                procs[0].kill()
                pytest.fail(f"the ranks did not start training: {procs[0].communicate()[1]}")
            time.sleep(0.05)
        lost_at = time.monotonic()
        procs[1].send_signal(how)
        _, err = procs[0].communicate(timeout=60)
        assert time.monotonic() - lost_at < 60
        assert procs[0].returncode == 1, err
        assert "lost rank 1 of the distributed run" in err and "rank 0 of 2 stops" in err
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


# (case, whether the ranks then sum in shared memory)
AVERAGING_CASES = (
    ("shared", True),
    ("no folder", False),
    ("rank 1 cannot map", False),
    ("rank 1 is told of a file not there", False),
)


def _averaged(rank: int, how: str, out: Path) -> dict:
    """average_gradients with the shared-memory folder `how` says: "shared" (a folder of the test's), "no
    folder" (it does not exist), "rank 1 cannot map" (rank 1 cannot open rank 0's file) or "rank 1 is told
    of a file not there" (as a rank on another machine is)."""
    import engine.distributed as D

    D._SharedSlots.forget()
    D.SHARED_MEMORY_DIR = out / ("missing" if how == "no folder" else "shm")
    open_file, store_get = D._open_shared_file, D._store_get
    if how == "rank 1 cannot map" and rank == 1:
        D._open_shared_file = lambda *args: None
    if how == "rank 1 is told of a file not there" and rank == 1:
        elsewhere = str(out / "shm" / "elsewhere")
        D._store_get = lambda store, key: elsewhere + "\n" + store_get(store, key).partition("\n")[2]
    both, mine_only, nobody = (torch.zeros(3, requires_grad=True) for _ in range(3))
    both.grad = torch.full((3,), 1.0 + 2.0 * rank)  # rank 0: 1, rank 1: 3 -> mean 2
    if rank == 0:
        mine_only.grad = torch.full((3,), 4.0)  # rank 1 has none: (4 + 0) / 2
    noisy = torch.zeros(1000, requires_grad=True)
    noisy.grad = torch.randn(1000, generator=torch.Generator().manual_seed(rank))
    mean_of_noise = noisy.grad / 2 + torch.randn(1000, generator=torch.Generator().manual_seed(1 - rank)) / 2
    D.average_gradients([both, mine_only, nobody, noisy])
    D._open_shared_file, D._store_get = open_file, store_get
    result = {
        "both": both.grad.tolist(),
        "mine_only": mine_only.grad.tolist(),
        "nobody": nobody.grad is None,
        "noise_as_gloo_sums": torch.equal(noisy.grad, mean_of_noise),
        "shared": D._SharedSlots.current is not None,
        "files_left": sorted(path.name for path in (out / "shm").iterdir()),
    }
    D.barrier()  # neither rank creates the next case's file before both have looked
    return result


def _gradient_job(rank: int, out: Path) -> None:
    from engine.distributed import broadcast_tensors, check_same_sizes, setup, teardown

    setup("cpu")
    (out / "shm").mkdir(exist_ok=True)
    result = {how: _averaged(rank, how, out) for how, _ in AVERAGING_CASES}
    weights = torch.full((2,), float(rank + 5))
    steps = torch.tensor([rank + 10])  # an integer buffer, as BatchNorm's num_batches_tracked
    broadcast_tensors([weights, steps])
    try:
        check_same_sizes([torch.zeros(2 + rank)], "models")
        mismatch = "none"
    except Exception as error:  # noqa: BLE001 (the test reports whatever it was)
        mismatch = f"{type(error).__name__}: {error}"
    result["state"] = {"weights": weights.tolist(), "steps": steps.tolist(), "mismatch": mismatch}
    (out / f"grads{rank}.json").write_text(json.dumps(result))
    teardown()


def test_gradients_are_averaged_and_rank_0_state_is_broadcast_as_ddp_does(tmp_path: Path) -> None:
    spawn(_gradient_job, 2, tmp_path)
    for rank in range(2):
        got = json.loads((tmp_path / f"grads{rank}.json").read_text())
        for how, shared in AVERAGING_CASES:
            grads = got[how]
            assert grads["both"] == [2.0] * 3 and grads["mine_only"] == [2.0] * 3 and grads["nobody"], how
            assert grads["noise_as_gloo_sums"], how  # the same bits through shared memory as through gloo
            assert grads["shared"] is shared, how  # every rank falls back when one cannot map the file
            assert grads["files_left"] == [], how  # unlinked once mapped, and no rank creates one
        state = got["state"]
        assert state["weights"] == [5.0, 5.0] and state["steps"] == [10]
        assert state["mismatch"].startswith("DistributedError: the ranks hold different models")
        assert "2 to 3 values" in state["mismatch"]


def _batchnorm_job(rank: int, out: Path) -> None:
    import sys

    from torch import nn

    from engine.callbacks import Callback

    class StatsAtEachStep(Callback):
        order = 0  # after DistributedTrainer's before_batch

        def __init__(self) -> None:
            self.seen: list[list[float]] = []

        def before_batch(self) -> None:
            if self.learn.training:
                self.seen.append(self.learn.model[1].running_mean.tolist())

    torch.manual_seed(rank)  # different starting weights on each rank: rank 0's must win
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    learn = regression_learner(bs=8, valid_bs=8, path=out / str(rank), model=model)
    stats = StatsAtEachStep()
    with learn.distributed():
        learn.fit(2, cbs=[stats])
    weights = [p.flatten().tolist() for p in learn.model.parameters()]
    result = {"weights": weights, "stats": stats.seen, "compiler": "torch._dynamo" in sys.modules}
    (out / f"bn{rank}.json").write_text(json.dumps(result))


def test_a_cpu_fit_keeps_weights_and_batchnorm_statistics_in_step_without_importing_the_compiler(
    tmp_path: Path,
) -> None:
    """Each rank starts from other weights and sees other rows, yet both hold rank 0's weights and, at the
    start of every training batch, rank 0's BatchNorm statistics (as DDP's broadcast_buffers); and the CPU
    path never builds DDP, whose constructor imports torch._dynamo (1.2 s)."""
    spawn(_batchnorm_job, 2, tmp_path)
    rank0, rank1 = (json.loads((tmp_path / f"bn{r}.json").read_text()) for r in range(2))
    assert rank0["weights"] == rank1["weights"]
    assert len(rank0["stats"]) == 12 and rank0["stats"] == rank1["stats"]  # 2 epochs of 6 batches of 4 rows
    assert rank0["stats"][0] == [0.0] * 8 and rank0["stats"][1] != rank0["stats"][0]
    assert not rank0["compiler"] and not rank1["compiler"]
