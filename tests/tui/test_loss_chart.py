"""The loss chart: curves of very different scales get a panel each, and the legend names every curve."""

from __future__ import annotations

import re

from tui.widgets.loss_chart import Series, chart_for, kinds_of, render_chart, scale_groups

LM_KIND = ("accuracy", "perplexity")
CLASSIFIER_KIND = ("accuracy",)


def falling(start: float, end: float, steps: int = 60) -> list[tuple[float, float]]:
    return [(step, start * (end / start) ** (step / steps)) for step in range(1, steps + 1)]


def y_ticks(text: str) -> list[list[float]]:
    """The labelled y values of each panel, top to bottom."""
    panels, ticks = [], []
    for line in text.splitlines():
        if match := re.match(r"\s*(\S+) ┤", line):
            ticks.append(float(match.group(1)))  # "8e-3" too
        elif line.lstrip().startswith("└"):
            panels.append(ticks)
            ticks = []
    return panels


def test_a_language_model_and_a_classifier_get_a_panel_each() -> None:
    curves = {
        "general LM": falling(5.2, 4.6),
        "review LM": falling(4.9, 4.3),
        "classifier": falling(0.05, 0.008),
    }
    text = chart_for(curves, {}, [], [], width=80, height=18).plain
    (lm, classifier) = y_ticks(text)
    assert 4 < min(lm) and max(lm) < 5.3  # the language model fills its panel...
    assert max(classifier) < 0.06  # ...and the classifier is not a flat line at the bottom of it
    assert text.index("general LM") < text.index("review LM") < text.index("classifier")


def test_the_command_line_gives_every_panel_its_own_height() -> None:
    curves = {"lm": falling(5.0, 4.0), "classifier": falling(0.05, 0.01)}
    text = chart_for(curves, {}, [], [], width=80, panel_height=12).plain
    assert len(text.splitlines()) == 24


def test_same_kind_curves_share_an_axis_however_far_apart_and_kinds_split_close_ones() -> None:
    levels = {"tabular": 1.0, "RNN": 1.9, "lm": 0.7, "clf": 0.6}
    kinds = {"tabular": (), "RNN": (), "lm": LM_KIND, "clf": CLASSIFIER_KIND}
    assert scale_groups(["tabular", "RNN"], levels, kinds, 3) == [["tabular", "RNN"]]
    assert scale_groups(["lm", "clf"], levels, kinds, 3) == [["lm"], ["clf"]]
    # A curve before its first epoch row has no kind yet: its scale decides.
    assert scale_groups(["lm", "clf", "RNN"], levels, {"lm": LM_KIND}, 3) == [["lm", "clf"], ["RNN"]]


def test_past_the_room_for_panels_the_closest_scales_merge() -> None:
    levels = {"a": 0.0, "b": -1.0, "c": -3.0}
    assert scale_groups(["a", "b", "c"], levels, {}, 3) == [["a"], ["b"], ["c"]]
    assert scale_groups(["a", "b", "c"], levels, {}, 2) == [["a", "b"], ["c"]]
    assert scale_groups(["a", "b", "c"], levels, {}, 1) == [["a", "b", "c"]]
    assert (
        len(
            y_ticks(
                chart_for(
                    {n: falling(10**v, 10**v / 2) for n, v in levels.items()}, {}, [], [], height=12
                ).plain
            )
        )
        == 1
    )


def test_kinds_come_from_a_saved_runs_epoch_rows() -> None:
    epochs = [
        {"series": "lm", "metrics": {"perplexity": 9.0, "accuracy": 0.2}},
        {"series": "clf", "metrics": {}},
    ]
    assert kinds_of(epochs) == {"lm": LM_KIND, "clf": ()}


def test_the_legend_names_every_series_wrapping_as_it_must() -> None:
    names = ["gradual unfreezing", "all at once", "ratio 1", "ratio 2.6", "ratio 20"]
    series = [Series(name, falling(0.7, 0.3 + i / 100)) for i, name in enumerate(names)]
    text = render_chart(series, width=60, height=12).plain
    for name in names:
        assert f"━ {name}" in text
    assert len(text.splitlines()) == 12  # the legend's second line comes out of the plot, not on top of it
    assert all(len(line) <= 60 for line in text.splitlines())


def test_validation_curves_are_in_the_legend_and_in_their_curves_panel() -> None:
    curves = {"lm": falling(5.0, 4.5), "ratio 1": falling(0.7, 0.4), "ratio 20": falling(0.7, 0.5)}
    valid = {name: [(points[-1][0], points[-1][1] * 1.1)] for name, points in curves.items()}
    kinds = {"lm": LM_KIND, "ratio 1": CLASSIFIER_KIND, "ratio 20": CLASSIFIER_KIND}
    text = chart_for(curves, valid, [], [], width=60, height=18, kinds=kinds).plain
    lm_panel, classifier_panel = text.split("└", 1)
    assert "━ lm ━ valid" in lm_panel  # a curve and its validation line: one item
    for name in ("ratio 1", "ratio 20"):
        assert re.search(rf"([━┉╍┅]) {name} \1 valid( |$)", classifier_panel, re.M)  # each with its own mark


def test_the_closest_scales_merge_even_when_another_came_between() -> None:
    levels = {"lm": 0.7, "clf": -2.0, "rnn": 0.6}
    assert scale_groups(["lm", "clf", "rnn"], levels, {}, 2) == [["lm", "rnn"], ["clf"]]


def five_seeds(arm: str, start: float, end: float) -> dict[str, list[tuple[float, float]]]:
    from labs.events import seed_series

    return {seed_series(arm, seed): falling(start + 0.02 * seed, end + 0.02 * seed) for seed in range(5)}


def test_a_five_seed_comparison_draws_one_line_per_arm_with_its_spread() -> None:
    curves = {**five_seeds("gradual", 1.0, 0.3), **five_seeds("all at once", 1.0, 0.5)}
    grouped = chart_for(curves, {}, [], [], width=80, height=14)
    legend = grouped.plain.splitlines()[0]
    assert "gradual (mean of 5 seeds)" in legend and "all at once (mean of 5 seeds)" in legend
    assert "seed 3" not in grouped.plain  # one line per arm, not 10
    assert any("dim" in str(span.style) for span in grouped.spans)  # the band: dimmed dots
    per_seed = chart_for(curves, {}, [], [], width=200, height=30, per_seed=True).plain
    assert per_seed.count("· seed") == 10  # every seed's curve on demand


def test_the_mean_follows_the_seeds_and_the_band_spans_them() -> None:
    from tui.widgets.loss_chart import by_arm

    curves = {"a · seed 0": [(1, 1.0), (2, 0.5)], "a · seed 1": [(1, 3.0), (2, 1.5)], "plain": [(1, 9.0)]}
    curves["b · seed 42"] = [(1, 4.0)]  # an arm run on one seed keeps its seed's name: it is no mean
    merged, valid, bands, _ = by_arm(curves, {"a · seed 0": [(2, 0.4)], "a · seed 1": [(2, 0.6)]}, {})
    assert merged["a (mean of 2 seeds)"] == [(1, 2.0), (2, 1.0)] and merged["plain"] == [(1, 9.0)]
    assert merged["b · seed 42"] == [(1, 4.0)] and "b · seed 42" not in bands
    assert valid["a (mean of 2 seeds)"] == [(2, 0.5)]
    (x, low, high), _ = bands["a (mean of 2 seeds)"]
    assert x == 1 and low == 1.0 and high == 3.0


def test_series_differ_in_marks_as_well_as_colours() -> None:
    series = [Series(f"s{i}", falling(1.0, 0.5), "cyan", mark=i) for i in range(4)]
    legend = render_chart(series, width=120, height=10).plain.splitlines()[0]
    marks = [legend[legend.index(f"s{i}") - 2] for i in range(4)]
    assert len(set(marks)) == 4


def test_a_long_legend_takes_a_third_of_the_chart_and_names_the_arms_means_first() -> None:
    tuning = {f"{arm}, lr {lr} (tuning, seed 42)": falling(5.0, 4.0) for arm in "abcd" for lr in (1, 3, 10)}
    curves = {**tuning, **five_seeds("pretrained", 5.0, 4.2), **five_seeds("from scratch", 5.0, 4.4)}
    valid = {name: [(60, points[-1][1] * 1.1)] for name, points in curves.items()}
    text = chart_for(curves, valid, [], [], width=80, height=16).plain
    legend, plot = text.split("┤", 1)
    legend_lines = legend.splitlines()[:-1]  # the last holds the top y label
    assert len(legend_lines) <= 5 and "more" in legend_lines[-1]
    assert len([line for line in text.splitlines() if "┤" in line or "│" in line]) >= 10
    for arm in ("pretrained", "from scratch"):  # what the verdict compares, train and valid
        assert re.search(rf"([━┉╍┅]) {arm} \(mean of 5 seeds\) \1 valid", legend)
    assert "tuning" not in legend.split("from scratch (mean of 5 seeds)")[0]


def test_the_axis_name_keeps_its_distance_after_a_cut_legend() -> None:
    series = [Series(f"a curve with a rather longer name, number {i}", falling(1.0, 0.5)) for i in range(6)]
    legend = render_chart(series, width=48, height=8).plain.splitlines()[:2]
    assert legend[-1] == "+5 more  x: step", legend  # it read "+5 morex: step"
