"""Two `cardlab import anki` of one deck at once: each review is stored once, enforced by the database
(a review's source id, Anki's revlog id, is unique per pack), not by what each import read first."""

from __future__ import annotations

from pathlib import Path

import pytest

from cards.store import Store
from tests.cards.test_anki import run_import


def test_an_import_that_read_before_the_other_wrote_adds_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, store = run_import(tmp_path, "modern.apkg")
    assert store.review_count() == 12
    with monkeypatch.context() as patch:  # the second import read the store before the first wrote
        patch.setattr(Store, "reviews", lambda self, pack_id=None, card_id=None: [])
        summary, _ = run_import(tmp_path, "modern.apkg", store)
    assert summary.reviews_imported == 0
    assert store.review_count() == 12
