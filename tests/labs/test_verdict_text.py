"""The verdict and "predict the outcome" words that the lab screen and `cardlab lab` share."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labs.verdict_text import (
    NO_CLEAR_ANSWER,
    clear_outcome,
    outcome_line,
    outcome_summary,
    verdict_lines,
    verdict_of,
)

CLAIM = "gradual unfreezing beats unfreezing all at once"


def plain(lines) -> str:
    return "\n".join("".join(piece for piece, _ in line) for line in lines)


def result(agrees: object, outcome: object = "gradual wins", **verdict: object) -> dict[str, object]:
    return {
        "outcome": outcome,
        "verdict": {"claim": CLAIM, "agrees": agrees, "effect": 0.031, "noise": 0.02, **verdict},
    }


@pytest.mark.parametrize(
    ("agrees", "judgement", "tone"),
    [
        (True, "this run agrees  (effect +0.031 ± 0.02)", "agrees"),
        (False, "this run does not agree  (effect +0.031 ± 0.02)", "disagrees"),
        (None, "inconclusive: effect +0.031 ± 0.02, within the noise", "inconclusive"),
    ],
)
def test_verdict_lines_give_the_claim_then_the_judgement_with_effect_and_noise(
    agrees, judgement, tone
) -> None:
    lines = verdict_lines(result(agrees))
    assert plain(lines) == f"claim: {CLAIM}\n→ {judgement}"
    assert lines[1][1][1] == tone


def test_an_inconclusive_run_gives_no_clear_answer_instead_of_a_check() -> None:
    for inconclusive in (result(None), result(True, outcome=None)):
        assert clear_outcome(inconclusive) is None
        assert plain([outcome_line(inconclusive, "gradual wins")]) == (
            f"this run: {NO_CLEAR_ANSWER}  (you predicted gradual wins)"
        )
        assert outcome_summary(inconclusive) == NO_CLEAR_ANSWER
    clear = result(False)
    assert plain([outcome_line(clear, "gradual wins")]) == "this run: gradual wins  ✓ as you predicted"
    assert (
        plain([outcome_line(clear, "all at once")]) == "this run: gradual wins  ✗ you predicted all at once"
    )


def test_results_without_a_verdict_read_as_before() -> None:
    old = {"accuracy": 0.9, "outcome": "down"}
    assert verdict_lines(old) == [] and verdict_of(old) is None
    assert plain([outcome_line(old)]) == "this run: down"
    assert outcome_summary(old) == "down"
    assert outcome_summary({"accuracy": 0.9}) == "" and verdict_lines({}) == [] and verdict_lines(None) == []


def test_a_malformed_verdict_is_shown_as_far_as_it_makes_sense() -> None:
    assert verdict_lines({"verdict": "yes"}) == []
    odd = {"outcome": "x", "verdict": {"agrees": "yes", "effect": "big", "noise": float("nan")}}
    assert plain(verdict_lines(odd)) == "→ inconclusive"  # no claim, no numbers: nothing invented
    assert (
        plain(verdict_lines(result(True, noise=None)))
        == f"claim: {CLAIM}\n→ this run agrees  (effect +0.031)"
    )


def test_the_module_imports_no_torch_rich_or_textual() -> None:
    code = (
        "import sys, labs.verdict_text; "
        "print(sorted(m for m in ('torch', 'rich', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
