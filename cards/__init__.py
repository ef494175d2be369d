"""The UI-free study core: packs, scheduling and the review store.

Nothing here imports Textual, torch or pandas, so studying starts fast.
"""
