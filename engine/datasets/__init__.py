"""Datasets: the lesson's real data and offline stand-ins.

- `catalog`: the known datasets (canonical URL, archive size and checksums, license, layout).
- `fetch`: download, verify and extract them into the cache; resolve a lab's `--data NAME|PATH`.
- readers for the real layouts and deterministic generators of offline data live beside these.

Nothing is imported here, so `import engine.datasets.fetch` stays light (no torch, no pandas).
"""
