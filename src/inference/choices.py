"""The choices the predict commands offer, importable without loading any model library (so
``--help`` stays fast)."""

from __future__ import annotations

from src.models.layout import BACKENDS

__all__ = ["BACKENDS", "STANCE_MODES"]

# combined: a resolved speaker's camp is the stance and the model decides the rest;
# model: the stance model alone (src.inference.speakers.decide).
STANCE_MODES = ("combined", "model")
