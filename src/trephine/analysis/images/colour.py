"""Colour arithmetic shared by the image analyses: optical density, saturation, stain
separation (haematoxylin, eosin, DAB by :func:`skimage.color.rgb2hed`, Ruifrok & Johnston 2001)."""

from __future__ import annotations

import numpy as np
from skimage.color import rgb2hed

__all__ = ["as_rgb", "optical_density", "saturation", "stains"]


def as_rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as H×W×3 uint8 RGB (alpha dropped, greyscale repeated, floats scaled)."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(f"an RGB image is H×W×3, got shape {array.shape}")
    array = array[..., :3]
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8)
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)


#: Optical density of each uint8 level, -log10((I + 1) / 256), looked up per pixel.
_OD = np.asarray(-np.log10((np.arange(256, dtype=np.float32) + 1.0) / 256.0), dtype=np.float32)


def optical_density(rgb: np.ndarray) -> np.ndarray:
    """Per-channel optical density -log10((I + 1) / 256) of a uint8 RGB image (float32)."""
    return _OD[as_rgb(rgb)]


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation (0-1) of a uint8 RGB image."""
    array = as_rgb(rgb)
    red, green, blue = array[..., 0], array[..., 1], array[..., 2]
    high = np.maximum(np.maximum(red, green), blue).astype(np.float32)
    low = np.minimum(np.minimum(red, green), blue).astype(np.float32)
    return np.where(high > 0, (high - low) / np.maximum(high, 1.0), 0.0).astype(np.float32)


def stains(rgb: np.ndarray) -> np.ndarray:
    """Haematoxylin, eosin and DAB concentrations (H×W×3 float32) by colour deconvolution."""
    return np.asarray(rgb2hed(rgb), dtype=np.float32)
