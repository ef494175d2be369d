"""The words for a run's verdict and its "predict the outcome" check, shared by the lab screen and the CLI.

A lab's result may hold `"verdict": {"claim", "agrees", "effect", "noise"}`: a one-sentence claim, whether
this run agrees with it (None: the measured effect is within the noise), the measured difference and the
spread expected between runs. `"outcome"` names the question's choice that came true, None when the run
cannot tell. Results saved before verdicts existed have neither key or only an outcome, and read as before.

Plain strings tagged with a tone (no Rich, no torch): the caller styles each tone. Results come from JSON
a lab or an old file wrote, so every field is checked rather than trusted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Tone = Literal["heading", "agrees", "disagrees", "inconclusive", "detail"]
Line = list[tuple[str, Tone]]  # one line of text, in toned pieces

NO_CLEAR_ANSWER = "no clear answer on this run"


@dataclass(frozen=True)
class Verdict:
    claim: str
    agrees: bool | None
    effect: float | None
    noise: float | None
    threshold: float | None = None  # what |effect| had to reach (None: a run saved before thresholds)
    seeds: int | None = None
    min_detectable_effect: float | None = None
    metric: str = ""
    rule: str = ""
    note: str = ""  # why there is no verdict by design (smoke, one seed)
    reference: str = ""  # the lesson's or paper's figure, and what differs

    def measured(self) -> str:
        """`effect +0.031 ± 0.02`, or "" when the lab gave no effect."""
        if self.effect is None:
            return ""
        noise = f" ± {self.noise:.3g}" if self.noise is not None else ""
        return f"effect {self.effect:+.3g}{noise}"


def verdict_of(result: Mapping[str, Any] | None) -> Verdict | None:
    """The result's verdict, None when it has none (an old run) or it is not a mapping."""
    raw = (result or {}).get("verdict")
    if not isinstance(raw, Mapping):
        return None
    agrees = raw.get("agrees")
    return Verdict(
        claim=str(raw.get("claim") or ""),
        agrees=agrees if isinstance(agrees, bool) else None,
        effect=_number(raw.get("effect")),
        noise=_number(raw.get("noise")),
        threshold=_number(raw.get("threshold")),
        seeds=_count(raw.get("seeds")),
        min_detectable_effect=_number(raw.get("min_detectable_effect")),
        metric=_text(raw.get("metric")),
        rule=_text(raw.get("rule")),
        note=_text(raw.get("note")),
        reference=_text(raw.get("reference")),
    )


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def verdict_lines(result: Mapping[str, Any] | None) -> list[Line]:
    """The claim, then whether this run agrees, with the effect against the noise; [] without a verdict."""
    verdict = verdict_of(result)
    if verdict is None:
        return []
    measured = verdict.measured()
    if verdict.note:
        judgement: Line = [("no verdict", "inconclusive"), (f": {verdict.note}", "detail")]
        if measured:
            judgement.append((f" ({measured})", "detail"))
    elif verdict.agrees is None:
        judgement = [("inconclusive", "inconclusive")]
        if measured:
            judgement.append((f": {measured}, within the noise", "detail"))
    else:
        judgement = (
            [("this run agrees", "agrees")] if verdict.agrees else [("this run does not agree", "disagrees")]
        )
        if measured:
            judgement.append((f"  ({measured})", "detail"))
    lines: list[Line] = [[("claim: ", "detail"), (verdict.claim, "heading")]] if verdict.claim else []
    lines.append([("→ ", "detail"), *judgement])
    if (detectable := detection_line(verdict)) is not None:
        lines.append([(detectable, "detail")])
    if verdict.reference:
        lines.append([("lesson/paper: ", "detail"), (verdict.reference, "detail")])
    return lines


def detection_line(verdict: Verdict) -> str | None:
    """What the run could and could not tell, in one line: the rule's threshold and the smallest effect
    it would have detected. None for runs saved before thresholds, and for those with no verdict."""
    if verdict.threshold is None or verdict.seeds is None or verdict.note:
        return None
    metric = f" in {verdict.metric}" if verdict.metric else ""
    mde = verdict.min_detectable_effect
    detectable = f"; it could detect differences of about {mde:.3g} or more" if mde is not None else ""
    return (
        f"{verdict.seeds} seeds: a verdict needed |effect| ≥ {verdict.threshold:.3g}{metric} "
        f"(t-test, 95 %){detectable}"
    )


def data_used_line(data: Mapping[str, Any]) -> str:
    """`real data: imdb_sample (1000 reviews)` or `generated data: ... (2000 ratings) — note`, from a
    DataUsed event or run.json's "data"."""
    source = "real" if data.get("source") == "real" else "generated"
    rows, unit = data.get("rows"), str(data.get("unit") or "rows")
    count = f" ({rows:,} {unit})" if isinstance(rows, int) and not isinstance(rows, bool) else ""
    note = f" — {data['note']}" if data.get("note") else ""
    return f"{source} data: {data.get('name') or '?'}{count}{note}"


def has_outcome(result: Mapping[str, Any] | None) -> bool:
    """Whether the run answers the question at all (old runs of labs without a question do not)."""
    return result is not None and bool(result) and ("outcome" in result or verdict_of(result) is not None)


def clear_outcome(result: Mapping[str, Any] | None) -> str | None:
    """The choice that came true, None when the run is inconclusive (no outcome, or a verdict in the noise)."""
    outcome = (result or {}).get("outcome")
    verdict = verdict_of(result)
    if outcome is None or (verdict is not None and verdict.agrees is None):
        return None
    return str(outcome)


def outcome_line(result: Mapping[str, Any] | None, guess: str | None = None) -> Line:
    """`this run: CHOICE` with ✓/✗ against the student's guess, or "no clear answer on this run"."""
    outcome = clear_outcome(result)
    if outcome is None:
        line: Line = [("this run: ", "detail"), (NO_CLEAR_ANSWER, "inconclusive")]
        return line + ([(f"  (you predicted {guess})", "detail")] if guess is not None else [])
    line = [("this run: ", "detail"), (outcome, "heading")]
    if guess is None:
        return line
    if guess == outcome:
        return [*line, ("  ✓ as you predicted", "agrees")]
    return [*line, (f"  ✗ you predicted {guess}", "disagrees")]


def outcome_summary(result: Mapping[str, Any] | None) -> str:
    """One short cell for a list of runs: the outcome, the no-clear-answer words, or ""."""
    if not has_outcome(result):
        return ""
    return clear_outcome(result) or NO_CLEAR_ANSWER
