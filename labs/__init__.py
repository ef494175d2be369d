"""Runnable labs: one folder per lab, torch-free metadata, and a runner.

Each lab is a folder, `labs/builtin/<lab id>/` with `lab.toml` (its metadata) and `lab.py` (its
`run(ctx)`). `labs.labdir` reads the lab.toml files without importing torch, so `cardlab pack check` and
the study screen know the lab ids cheaply; `labs.registry` indexes them. A lab's code is imported only
when the lab runs.
"""
