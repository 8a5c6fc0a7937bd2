"""The detector's feature vector has the shipped model's width, with candidates and without
(a blank image once returned a 38-wide empty array against the model's 29); the shortcuts
that make it fast (smoothings made one from the other, values computed at the candidates only)
give what whole-image Gaussian filters give."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from trephine.analysis.images.nuclei import (
    BORDER_REACH,
    SCALES,
    _at_points,
    _hessian_eigenvalues,
    _smoothed,
    candidate_features,
    detect_nuclei,
    load_model,
)
from trephine.analysis.images.phantoms import make_phantom


def test_feature_width_matches_the_model_with_and_without_candidates() -> None:
    width = len(load_model().mean)
    xy, features = candidate_features(make_phantom(3, 160, artefacts=False).rgb)
    assert len(xy) > 0 and features.shape == (len(xy), width)
    blank = np.full((64, 64, 3), 240, dtype=np.uint8)
    xy, features = candidate_features(blank)
    assert xy.shape == (0, 2) and features.shape == (0, width)
    assert detect_nuclei(blank).shape == (0, 2)


def _image() -> np.ndarray:
    return np.random.default_rng(7).random((90, 110)).astype(np.float32)


def test_chained_smoothings_equal_direct_gaussian_filters() -> None:
    image = _image()
    chained = _smoothed(image)
    for sigma in SCALES:
        direct = ndi.gaussian_filter(image.astype(np.float64), sigma)
        inner = (slice(30, 60), slice(30, 80))  # away from the reflected border
        assert np.allclose(chained[sigma][inner], direct[inner], atol=2e-4), sigma


def test_values_at_points_equal_the_filtered_image_there_edges_included() -> None:
    image = _image()
    rows = np.array([0, 5, 44, 89, 89, 17])
    cols = np.array([0, 109, 55, 0, 109, 3])
    for sigma in (4, 8):
        (at,) = _at_points([image], rows, cols, sigma)
        full = ndi.gaussian_filter(image.astype(np.float64), sigma)
        assert np.allclose(at, full[rows, cols], atol=1e-5), sigma


def test_hessian_eigenvalues_are_those_of_numpy_gradient_twice() -> None:
    g = ndi.gaussian_filter(_image().astype(np.float64), 3)
    rr = np.gradient(np.gradient(g, axis=0), axis=0)
    cc = np.gradient(np.gradient(g, axis=1), axis=1)
    rc = np.gradient(np.gradient(g, axis=0), axis=1)
    rows, cols = np.array([10, 40, 70]), np.array([12, 50, 90])
    larger, smaller = _hessian_eigenvalues(g, rows, cols)
    for k, (r, c) in enumerate(zip(rows, cols, strict=True)):
        expected = np.linalg.eigvalsh([[rr[r, c], rc[r, c]], [rc[r, c], cc[r, c]]])
        assert np.allclose([smaller[k], larger[k]], expected, atol=1e-12)


def test_edge_nearness_is_zero_on_the_edge_and_one_inside() -> None:
    rgb = np.full((80, 80, 3), 235, dtype=np.uint8)
    rgb[34:46, 34:46] = (70, 40, 140)  # a nucleus in the middle
    rgb[34:46, 0:6] = (70, 40, 140)  # half a nucleus cut by the left edge
    xy, features = candidate_features(rgb)
    nearness = features[:, -1]
    middle = np.hypot(xy[:, 0] - 39.5, xy[:, 1] - 39.5) < 4
    edge = xy[:, 0] < BORDER_REACH / 2
    assert middle.any() and edge.any()
    assert (nearness[middle] == 1).all() and (nearness[edge] < 0.5).all()
