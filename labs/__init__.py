"""Runnable labs: one module per lesson technique, a torch-free registry, and a threaded runner.

`labs.registry` holds every lab's metadata without importing torch, so `cardlab pack check` and the
study screen can know the lab ids cheaply. A lab's `run(ctx)` lives in `labs/<lab_id_with_underscores>.py`
and is imported only when the lab runs.
"""
