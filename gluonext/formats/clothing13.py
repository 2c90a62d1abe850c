"""clothing13 (a clothing parsing dataset): 13 classes in id order; 255 in masks means ignore."""

from __future__ import annotations

CLASSES = (
    "background",
    "skin",
    "hair",
    "outer top",
    "inner top",
    "skirt",
    "dress",
    "outer bottom",
    "inner bottom",
    "shoes",
    "bag",
    "accessories",
    "other",
)


IGNORE_VALUE = 255
