"""A lab's verdict: does the card's claim show across seeds, by more than the seeds' own spread?

The protocol (the project's experiment rules): every seed trains every arm on the same split, and the
per-seed paired difference d_i of the held-out metric, in the claim's favour, is the unit. With n seeds,
SE = sd(d) / sqrt(n) and a two-sided one-sample t-test at 95 % with n - 1 degrees of freedom decides:

    agrees           mean(d) >= t(0.975, n-1) * SE      (the threshold)
    does not agree   mean(d) <= -threshold
    inconclusive     otherwise; or with one seed, which has no spread to judge against

The minimum detectable effect (80 % power) is (t(0.975, n-1) + t(0.80, n-1)) * SE: what this run could
have told from zero. A claim with several rivals ("2.6 beats 1 and 20") is tested against each, with
Holm's correction. Torch-free plain data, so the lab screen, `cardlab lab run|show` and saved runs read
it alike; `to_dict()` is what `run.json` keeps under `result["verdict"]`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ALPHA = 0.05  # two-sided
POWER = 0.80
ONE_SEED = "one seed cannot decide: run several (--set seeds=5) to measure the spread between them"
SMOKE = "smoke runs check the code, not the claim: no verdict"


@dataclass(frozen=True)
class Verdict:
    claim: str
    agrees: bool | None  # None: inconclusive
    effect: float  # mean paired difference over seeds, positive in the claim's favour
    noise: float  # its standard error, from the spread between seeds
    threshold: float  # |effect| must reach this for a verdict (t quantile x noise, Holm-adjusted)
    seeds: int
    min_detectable_effect: float  # the smallest true effect this run would detect 80 % of the time
    per_seed: tuple[float, ...] = ()
    metric: str = ""  # what the effect is a difference of, e.g. "held-out accuracy"
    rule: str = ""  # the decision rule in words
    note: str = ""  # why there is no verdict, when there is none by design (smoke, one seed)
    reference: str = ""  # the lesson's or paper's figure, and what differs from this run
    rivals: dict[str, dict[str, float]] = field(default_factory=dict)  # per-rival effect/threshold

    def to_dict(self) -> dict[str, object]:
        return {
            "claim": self.claim,
            "agrees": self.agrees,
            "effect": _rounded(self.effect),
            "noise": _rounded(self.noise),
            "threshold": _rounded(self.threshold),
            "seeds": self.seeds,
            "min_detectable_effect": _rounded(self.min_detectable_effect),
            "per_seed": [_rounded(value) for value in self.per_seed],
            "metric": self.metric,
            "rule": self.rule,
            "note": self.note,
            "reference": self.reference,
            "rivals": {name: {k: _rounded(v) for k, v in row.items()} for name, row in self.rivals.items()},
        }

    @property
    def word(self) -> str:
        return {True: "agrees", False: "disagrees", None: "inconclusive"}[self.agrees]


def _rounded(value: float) -> float | None:
    """JSON has no infinity: an undefined threshold is saved as null."""
    return round(value, 6) if math.isfinite(value) else None


def judge_seeds(
    claim: str,
    per_seed_effects: Sequence[float],
    metric: str = "",
    reference: str = "",
    note: str = "",
) -> Verdict:
    """The verdict on paired per-seed differences (positive: the claim holds), by a t-test at 95 %."""
    return judge_rivals(claim, {"": per_seed_effects}, metric=metric, reference=reference, note=note)


def judge_rivals(
    claim: str,
    rivals: Mapping[str, Sequence[float]],
    metric: str = "",
    reference: str = "",
    note: str = "",
) -> Verdict:
    """The claimed arm against each rival (per-seed differences, positive when the claimed arm is better):
    it agrees when it beats every rival, does not agree when some rival beats it, each test at 95 % with
    Holm's correction over the rivals; else inconclusive. The headline effect is the one against the
    closest rival."""
    if not rivals:
        raise ValueError("a verdict needs at least one comparison")
    tests = {name: _t_test(list(effects)) for name, effects in rivals.items()}
    levels = _holm_levels({name: test.p_value for name, test in tests.items()})
    for name, test in tests.items():
        test.decide(*levels[name])
    closest = min(tests, key=lambda name: tests[name].mean if math.isfinite(tests[name].mean) else math.inf)
    head = tests[closest]
    n = head.n
    if any(test.direction < 0 for test in tests.values()):
        agrees: bool | None = False
    elif all(test.direction > 0 for test in tests.values()):
        agrees = True
    else:
        agrees = None
    if n < 2 and not note:
        note = ONE_SEED
    if note:
        agrees = None
    return Verdict(
        claim=claim,
        agrees=agrees,
        effect=head.mean,
        noise=head.se,
        threshold=head.threshold,
        seeds=n,
        min_detectable_effect=head.mde,
        per_seed=tuple(head.values),
        metric=metric,
        rule=_rule_words(n, len(tests)),
        note=note,
        reference=reference,
        rivals={name: test.summary() for name, test in tests.items()} if len(tests) > 1 else {},
    )


def _rule_words(seeds: int, comparisons: int) -> str:
    if seeds < 2:
        return "one seed: no spread between seeds to judge against"
    holm = f", Holm-corrected over {comparisons} rivals" if comparisons > 1 else ""
    return f"paired t-test over {seeds} seeds, 95 % two-sided{holm}: |effect| must reach the threshold"


@dataclass
class _TTest:
    values: list[float]
    mean: float
    se: float
    p_value: float
    threshold: float = math.inf
    mde: float = math.inf
    direction: int = 0  # +1 significant in favour, -1 significant against, 0 not significant

    @property
    def n(self) -> int:
        return len(self.values)

    def decide(self, alpha: float, testable: bool = True) -> None:
        """Threshold and verdict direction at the (Holm-adjusted) two-sided level `alpha`; an untestable
        comparison (Holm stopped before it) keeps its threshold to show but gets no direction."""
        if self.n < 2 or not math.isfinite(self.se):
            return
        df = self.n - 1
        self.threshold = t_quantile(1 - alpha / 2, df) * self.se
        self.mde = (t_quantile(1 - ALPHA / 2, df) + t_quantile(POWER, df)) * self.se
        if not testable:
            return
        if self.se == 0:  # identical differences: the sign decides, unless there is no difference
            self.direction = (self.mean > 0) - (self.mean < 0)
        elif abs(self.mean) >= self.threshold:
            self.direction = 1 if self.mean > 0 else -1

    def summary(self) -> dict[str, float]:
        return {"effect": self.mean, "noise": self.se, "threshold": self.threshold, "p_value": self.p_value}


def _t_test(values: list[float]) -> _TTest:
    finite = [float(v) for v in values]
    n = len(finite)
    if n == 0 or not all(math.isfinite(v) for v in finite):
        return _TTest(finite, math.nan, math.inf, 1.0)
    mean = sum(finite) / n
    se = standard_error(finite)
    if n < 2:
        return _TTest(finite, mean, se, 1.0)
    if se == 0:
        return _TTest(finite, mean, 0.0, 0.0 if mean != 0 else 1.0)
    return _TTest(finite, mean, se, 2 * (1 - t_cdf(abs(mean) / se, n - 1)))


def _holm_levels(p_values: Mapping[str, float]) -> dict[str, tuple[float, bool]]:
    """Each comparison's (level, testable) under Holm's step-down procedure: the smallest p-value is
    tested at alpha/m, the next at alpha/(m-1), ...; once one fails, the rest are not significant."""
    order = sorted(p_values, key=lambda name: p_values[name])
    levels: dict[str, tuple[float, bool]] = {}
    testable = True
    for rank, name in enumerate(order):
        level = ALPHA / (len(order) - rank)
        levels[name] = (level, testable)
        testable = testable and p_values[name] <= level
    return levels


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean of `values` (sample std / sqrt(n)); infinite for fewer than two."""
    n = len(values)
    if n < 2:
        return math.inf
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return math.sqrt(variance / n)


def paired_noise(first: Sequence[float], second: Sequence[float]) -> float:
    """Standard error of mean(first) - mean(second) when both were measured on the same examples: the
    held-out set's own noise within one seed (shown beside the seed spread, never the verdict's noise)."""
    if len(first) != len(second):
        raise ValueError(f"paired samples differ in length: {len(first)} and {len(second)}")
    return standard_error([a - b for a, b in zip(first, second)])


def outcome_for(verdict: Verdict, if_agrees: str, if_disagrees: str) -> str | None:
    """The question's choice this run supports, or None when it is inconclusive."""
    if verdict.agrees is None:
        return None
    return if_agrees if verdict.agrees else if_disagrees


# -- Student's t distribution, stdlib only -----------------------------------------------------------


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    x = df / (df + t * t)
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, x)
    return 1 - tail if t > 0 else tail


@functools.lru_cache(maxsize=256)  # a verdict asks for the same few quantiles again and again
def t_quantile(p: float, df: int) -> float:
    """The t with P(T <= t) = p (bisection on `t_cdf`; exact to 1e-10)."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    low, high = -1e3, 1e3
    for _ in range(200):
        middle = (low + high) / 2
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-10:
            break
    return (low + high) / 2


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction (Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x > (a + 1) / (a + b + 2):
        return 1 - _incomplete_beta(b, a, 1 - x)
    front = math.exp(log_front) / a
    tiny = 1e-300
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            numerator = 1.0
        elif i % 2 == 0:
            numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            numerator = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1 + numerator * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + numerator / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(1 - c * d) < 1e-14:
            break
    return front * (f - 1)
