"""The detector's feature vector has the shipped model's width, with candidates and without
(a blank image once returned a 38-wide empty array against the model's 29)."""

from __future__ import annotations

import numpy as np

from trephine.analysis.images.nuclei import candidate_features, detect_nuclei, load_model
from trephine.analysis.images.phantoms import make_phantom


def test_feature_width_matches_the_model_with_and_without_candidates() -> None:
    width = len(load_model().mean)
    xy, features = candidate_features(make_phantom(3, 160, artefacts=False).rgb)
    assert len(xy) > 0 and features.shape == (len(xy), width)
    blank = np.full((64, 64, 3), 240, dtype=np.uint8)
    xy, features = candidate_features(blank)
    assert xy.shape == (0, 2) and features.shape == (0, width)
    assert detect_nuclei(blank).shape == (0, 2)
