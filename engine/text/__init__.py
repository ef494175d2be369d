"""engine.text: tokenizer, vocab, LM and classifier data, AWD-LSTM, and the ULMFiT learners.

Lazy (PEP 562) like `engine`: `import engine.text` does not import torch until a name is used.

    from engine.text import lm_data, clas_data, language_model_learner, text_classifier_learner, AWDLSTMConfig
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Tokenizer": "engine.text.tokenizer",
    "decode": "engine.text.tokenizer",
    "SPECIAL_TOKENS": "engine.text.tokenizer",
    "Vocab": "engine.text.vocab",
    "LMDataLoader": "engine.text.data",
    "SortedPadLoader": "engine.text.data",
    "TextDataLoaders": "engine.text.data",
    "lm_data": "engine.text.data",
    "clas_data": "engine.text.data",
    "pad_chunked": "engine.text.data",
    "AWDLSTMConfig": "engine.text.awd_lstm",
    "AWDLSTMEncoder": "engine.text.awd_lstm",
    "AWDLSTMLanguageModel": "engine.text.awd_lstm",
    "AWDLSTMClassifier": "engine.text.awd_lstm",
    "masked_concat_pool": "engine.text.awd_lstm",
    "language_model_learner": "engine.text.learner",
    "text_classifier_learner": "engine.text.learner",
    "LMLearner": "engine.text.learner",
    "TextClassifierLearner": "engine.text.learner",
    "RNNReset": "engine.text.learner",
    "RNNRegularizer": "engine.text.learner",
    "lm_splitter": "engine.text.learner",
    "classifier_splitter": "engine.text.learner",
    "flat_cross_entropy": "engine.text.loss",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'engine.text' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
