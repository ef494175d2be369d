"""Suite-wide settings, applied before any test imports torch."""

import os

# OpenMP threads that spin while waiting turn a busy 2-core machine (CI runs two xdist workers) into a
# crawl; passive waiting, and one thread per worker, keep every test's time steady.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test, and every `cardlab` it starts, gets a home of its own unless it names one: no test reads
    or locks the user's review store, nor another test's (two xdist workers share one user)."""
    monkeypatch.setenv("CARDLAB_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(autouse=True)
def no_warm_lab_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """No lab worker is started ahead (`labs.warm`): on a 2-core machine running two tests at once, a
    worker warmed for a run that never comes costs ~3 s of CPU, and the next test cannot use it (its
    environment differs). Tests of the warm worker turn it on (`warm_lab_worker`)."""
    monkeypatch.setenv("CARDLAB_WARM_WORKER", "0")


@pytest.fixture
def warm_lab_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDLAB_WARM_WORKER", "1")
