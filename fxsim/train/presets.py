"""The training presets of ``fxsim train``: one named, seeded recipe per
paper.

A preset is a function ``build(seed, *, epochs=None, quick=False) -> Run``
(``epochs`` overrides the preset's default; ``quick`` shrinks the data and
model for tests and must still exercise every layer).  :data:`PRESETS`
maps each name to ``"module:function"`` inside :mod:`fxsim.train`, imported
only when the preset is built.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Optional

__all__ = ["Run", "PRESETS", "build"]


@dataclass
class Run:
    """Everything one training run needs, built from a preset and a seed."""
    name: str                      # the preset's name
    seed: int
    model: object                  # a fxsim.train.base.Layer (usually Sequential)
    loss: object                   # SoftmaxCrossEntropy or SquareHinge
    optimizer: object              # a fxsim.train.optim.Optimizer over model
    data: object                   # a fxsim.train.data.Dataset (already shaped for the model)
    epochs: int
    batch_size: int
    schedule: Optional[Callable] = None        # epoch (float) -> learning rate
    after_training: Optional[Callable] = None  # (model, data) -> None, e.g. BN recomputation
    description: str = ""                      # one line: the paper and what is quantized how
    config: dict = field(default_factory=dict)  # JSON-able settings written to result.json


#: preset name -> "module:function" inside fxsim.train
PRESETS = {
    "float-mlp": "presets_mlp:float_mlp",
    "bnn-mlp": "presets_mlp:bnn_mlp",
    "shift-bnn-mlp": "presets_mlp:shift_bnn_mlp",
    "banner8-mlp": "presets_mlp:banner8_mlp",
    "mcdonnell-resnet": "presets_cnn:mcdonnell_resnet",
    "graham-cnn": "presets_cnn:graham_cnn",
    "float-cnn": "presets_cnn:float_cnn",
}


def build(name: str, seed: int = 0, *, epochs=None, quick: bool = False, **options) -> Run:
    """Build preset ``name`` for ``seed``; ``options`` go to the preset's
    builder (e.g. ``sign="plain"`` or ``bits=2`` for the CNN presets);
    unknown names raise ``ValueError`` listing the presets."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; the presets are: {', '.join(PRESETS)}")
    module, function = PRESETS[name].split(":")
    builder = getattr(importlib.import_module(f"{__package__}.{module}"), function)
    return builder(seed, epochs=epochs, quick=quick, **options)
