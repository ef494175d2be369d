"""tabular_learner: a TabularModel sized from the data, with predictions on raw rows.

    learn = tabular_learner(data, layers=[200, 100], metrics=accuracy)
    learn.fit(1, 1e-2)
    label, index, probs = learn.predict(df.iloc[0])      # a dict works too; missing/unseen values are fine
    learn.last_notes                                      # what predict had to fill or did not recognise
    learn.show_processed(row)                             # the row as the model sees it
    learn.export("adult.pt"); predictor = load_tabular("adult.pt"); predictor.predict(row)

For regression (`data.is_regression`), predict returns (value, None, raw output tensor).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from engine.callbacks.core import Callback
from engine.callbacks.threads import OneThreadForSmallSteps
from engine.learner import Learner
from engine.metrics import Metric, metric_list
from engine.tabular.data import TabularData, row_frame
from engine.tabular.model import TabularModel, emb_sz_rule
from engine.tabular.procs import TabularProcessor

Prediction = tuple[Any, int | None, Tensor]


def get_emb_szs(data: TabularData, overrides: Mapping[str, int] | None = None) -> list[tuple[int, int]]:
    """(n_categories, width) per categorical column: `emb_sz_rule` unless `overrides[col]` gives a width."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(data.cat_names)
    if unknown:
        raise ValueError(f"emb_szs names {sorted(unknown)} are not categorical columns {data.cat_names}")
    counts = data.processor.category_counts()
    return [(counts[c], overrides.get(c, emb_sz_rule(counts[c]))) for c in data.cat_names]


def regression_mse(pred: Tensor, targ: Tensor) -> Tensor:
    return F.mse_loss(pred.reshape(targ.shape), targ)


class _RowPredictor:
    """Turns raw rows into model outputs with the fitted processor (shared by the learner and exports)."""

    model: nn.Module
    processor: TabularProcessor
    classes: list[Any] | None
    last_notes: list[str]

    def _outputs(self, rows: Mapping[str, Any] | pd.Series | pd.DataFrame) -> Tensor:
        processed = self.processor.transform(row_frame(rows))
        self.last_notes = processed.notes
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                out = self.model(
                    torch.from_numpy(processed.cats).to(device), torch.from_numpy(processed.conts).to(device)
                )
        finally:
            self.model.train(was_training)
        return out.float().cpu()

    def predict(self, row: Mapping[str, Any] | pd.Series) -> Prediction:
        """(label, class index, class probabilities) for one row given as a dict or a pandas row.

        Missing values, absent columns and never-seen categories are handled by the fitted procs and
        described in `self.last_notes`.
        """
        out = self._outputs(row)
        if len(out) != 1:
            raise ValueError(f"predict takes one row, got {len(out)}; use predict_frame for many")
        if self.classes is None:
            return float(out[0, 0]), None, out[0]
        probs = torch.softmax(out[0], dim=0)
        index = int(probs.argmax())
        return self.classes[index], index, probs

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """Predictions for many rows: `prediction` (label or value) and, for classes, one `p_<class>` each."""
        out = self._outputs(df)
        if self.classes is None:
            return pd.DataFrame({"prediction": out[:, 0].numpy()}, index=df.index)
        probs = torch.softmax(out, dim=1).numpy()
        frame = pd.DataFrame({"prediction": [self.classes[i] for i in probs.argmax(1)]}, index=df.index)
        for j, label in enumerate(self.classes):
            frame[f"p_{label}"] = probs[:, j]
        return frame


class TabularLearner(_RowPredictor, Learner):
    """A Learner over TabularData that predicts from raw rows."""

    data: TabularData
    model_config: dict[str, Any]  # the TabularModel's arguments, saved by export to rebuild it

    def show_processed(self, row: Mapping[str, Any] | pd.Series) -> pd.DataFrame:
        """The row after the procs (see TabularData.show_processed)."""
        return self.data.show_processed(row)

    def export(self, file: str | Path) -> Path:
        """Save weights, processor state, classes and model shape in one file (torch, weights_only-safe)."""
        file = Path(file)
        file.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": self.model.state_dict(),
                "processor": self.processor.state(),
                "classes": self.classes,
                "config": self.model_config,
            },
            file,
        )
        return file


class TabularPredictor(_RowPredictor):
    """An exported tabular model: predicts from raw rows, no training data needed."""

    def __init__(self, model: nn.Module, processor: TabularProcessor, classes: list[Any] | None) -> None:
        self.model, self.processor, self.classes, self.last_notes = model, processor, classes, []


def load_tabular(file: str | Path) -> TabularPredictor:
    """Load what TabularLearner.export saved, ready for `predict(row)` / `predict_frame(df)`."""
    state = torch.load(Path(file), map_location="cpu", weights_only=True)
    config = state["config"]
    model = TabularModel(
        [tuple(e) for e in config["emb_szs"]],
        config["n_cont"],
        config["out_sz"],
        config["layers"],
        config["ps"],
        config["embed_p"],
        tuple(config["y_range"]) if config["y_range"] else None,
    )
    model.load_state_dict(state["model"])
    return TabularPredictor(model.eval(), TabularProcessor.from_state(state["processor"]), state["classes"])


def tabular_learner(
    data: TabularData,
    layers: Sequence[int] = (200, 100),
    metrics: Metric | Any | Iterable[Metric | Any] = (),
    emb_szs: Mapping[str, int] | None = None,
    ps: float | Sequence[float] | None = None,
    embed_p: float = 0.0,
    y_range: tuple[float, float] | None = None,
    loss_func: Any = None,
    cbs: Iterable[Callback] = (),
    **learner_kwargs: Any,
) -> TabularLearner:
    """A TabularLearner whose TabularModel has one embedding per categorical column (`emb_sz_rule` widths).

    Classification uses cross-entropy over `data.classes`; regression (float target) uses MSE with an
    optional `y_range`. Other keywords (lr, wd, opt_func, path, device, ...) go to Learner.
    """
    if not isinstance(data, TabularData):
        raise TypeError(
            f"tabular_learner needs TabularData (from tabular_data(...)), not {type(data).__name__}"
        )
    sizes = get_emb_szs(data, emb_szs)
    out_sz = 1 if data.is_regression else len(data.classes or [])
    config = {
        "emb_szs": [list(s) for s in sizes],
        "n_cont": len(data.cont_names),
        "out_sz": out_sz,
        "layers": list(layers),
        "ps": ps if ps is None or isinstance(ps, float) else list(ps),
        "embed_p": embed_p,
        "y_range": list(y_range) if y_range else None,
    }
    model = TabularModel(sizes, len(data.cont_names), out_sz, layers, ps, embed_p, y_range)
    loss = loss_func or (regression_mse if data.is_regression else F.cross_entropy)
    learn = TabularLearner(
        model,
        data.dls,
        loss,
        metrics=metric_list(metrics),
        cbs=[OneThreadForSmallSteps(), *cbs],
        **learner_kwargs,
    )
    learn.data, learn.processor, learn.classes, learn.last_notes = data, data.processor, data.classes, []
    learn.model_config = config
    return learn
