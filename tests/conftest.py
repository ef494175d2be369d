"""Suite-wide settings, applied before any test imports torch."""

import os

# OpenMP threads that spin while waiting turn a busy 2-core machine (CI runs two xdist workers) into a
# crawl; passive waiting, and one thread per worker, keep every test's time steady.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
