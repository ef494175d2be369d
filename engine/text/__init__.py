"""engine.text: tokenizer, vocab, LM and classifier data, AWD-LSTM, and the ULMFiT learners.

Lazy (PEP 562) like `engine`: `import engine.text` does not import torch until a name is used.

    from engine.text import lm_data, clas_data, language_model_learner, text_classifier_learner, AWDLSTMConfig
"""

from __future__ import annotations

from engine._lazy import lazy_exports

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
    "load_fastai_lm": "engine.text.fastai_weights",
    "read_fastai_checkpoint": "engine.text.fastai_weights",
    "FastaiCheckpointError": "engine.text.fastai_weights",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
