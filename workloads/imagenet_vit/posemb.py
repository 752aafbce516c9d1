"""The ViT's fixed 2-D sine-cosine position embedding, computed once in numpy.

It has no parameters and depends only on the patch grid and the width, so
both frameworks add the same float32 table (MoCo v3 layout, as the
reference: ``[sin(x), cos(x), sin(y), cos(y)]`` over ``width / 4``
frequencies ``temperature ** -(k / (width / 4 - 1))``).
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=8)
def posemb_sincos_2d(height: int, width_patches: int, width: int,
                     temperature: float = 10_000.0) -> np.ndarray:
    """``[1, height * width_patches, width]`` float32 table, row-major patches."""
    if width % 4 != 0:
        raise ValueError(f"imagenet_vit: the model width ({width}) must be a multiple of 4 "
                         "for the sine-cosine position embedding.")
    quarter = width // 4
    y, x = np.mgrid[:height, :width_patches]
    omega = 1.0 / temperature ** (np.arange(quarter) / max(quarter - 1, 1))
    ys = y.reshape(-1)[:, None] * omega[None, :]
    xs = x.reshape(-1)[:, None] * omega[None, :]
    table = np.concatenate([np.sin(xs), np.cos(xs), np.sin(ys), np.cos(ys)], axis=1)
    table = table.astype(np.float32)[None]
    table.setflags(write=False)
    return table
