"""RandAugment for the ViT's training images, as TensorFlow ops inside tf.data.

Facts from the reference's ``randaugment.py`` (the AutoAugment op set with
the RandAugment policy): each of ``num_layers`` layers applies ONE op drawn
uniformly from 16 (AutoContrast, Equalize, Invert, Rotate, Posterize,
Solarize, Color, Contrast, Brightness, Sharpness, ShearX, ShearY,
TranslateX, TranslateY, Cutout, SolarizeAdd) at a fixed magnitude
(levels out of 10; at the benchmark's 10: rotate 30 degrees, posterize to 4
bits, solarize threshold 256, solarize-add 110, enhance factor 1.9, shear
0.3, translate 100 pixels, cutout half-size 40). Geometric ops and cutout
fill with grey (128). Signs of rotate/shear/translate are random.

Difference from the reference: its sign flips and cutout position use
TensorFlow's stateful global RNG; here every draw is stateless, folded from
the example's seed, so augmentation is reproducible from the data seed.
"""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf

MAX_LEVEL = 10.0
FILL = 128


def _blend(degenerate: Any, image: Any, factor: Any) -> Any:
    """``degenerate + factor * (image - degenerate)``, clipped to uint8."""
    mixed = tf.cast(degenerate, tf.float32) + factor * (
        tf.cast(image, tf.float32) - tf.cast(degenerate, tf.float32))
    return tf.cast(tf.clip_by_value(mixed, 0.0, 255.0), tf.uint8)


def _affine(image: Any, transform: list[Any]) -> Any:
    """Inverse-map output pixels through ``transform`` (8 projective coefficients)."""
    shape = tf.shape(image)
    coeffs = tf.reshape(tf.cast(tf.stack(transform), tf.float32), [1, 8])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=coeffs, output_shape=shape[:2],
        fill_value=float(FILL), interpolation="NEAREST", fill_mode="CONSTANT")
    return out[0]


def _rotate(image: Any, degrees: Any) -> Any:
    h = tf.cast(tf.shape(image)[0], tf.float32) - 1.0
    w = tf.cast(tf.shape(image)[1], tf.float32) - 1.0
    angle = degrees * math.pi / 180.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    dx = (w - (cos * w - sin * h)) / 2.0
    dy = (h - (sin * w + cos * h)) / 2.0
    return _affine(image, [cos, -sin, dx, sin, cos, dy, 0.0, 0.0])


def _autocontrast(image: Any) -> Any:
    def channel(c: Any) -> Any:
        c = tf.cast(c, tf.float32)
        lo, hi = tf.reduce_min(c), tf.reduce_max(c)
        scaled = (c - lo) * 255.0 / tf.maximum(hi - lo, 1.0)
        return tf.cast(tf.where(hi > lo, scaled, c), tf.uint8)

    return tf.stack([channel(image[..., i]) for i in range(3)], axis=-1)


def _equalize(image: Any) -> Any:
    def channel(c: Any) -> Any:
        c = tf.cast(c, tf.int32)
        hist = tf.histogram_fixed_width(c, [0, 255], nbins=256)
        nonzero = tf.boolean_mask(hist, hist > 0)
        step = (tf.reduce_sum(nonzero) - nonzero[-1]) // 255
        safe = tf.maximum(step, 1)
        lut = (tf.cumsum(hist) + safe // 2) // safe
        lut = tf.clip_by_value(tf.concat([[0], lut[:-1]], 0), 0, 255)
        return tf.cast(tf.where(step == 0, c, tf.gather(lut, c)), tf.uint8)

    return tf.stack([channel(image[..., i]) for i in range(3)], axis=-1)


def _sharpness(image: Any, factor: Any) -> Any:
    x = tf.cast(image, tf.float32)[None]
    kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], tf.float32) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], padding="VALID")[0]
    smooth = tf.round(tf.clip_by_value(smooth, 0.0, 255.0))
    # The border keeps the original pixels.
    smooth = tf.pad(smooth, [[1, 1], [1, 1], [0, 0]])
    border = tf.pad(tf.zeros_like(smooth[1:-1, 1:-1]), [[1, 1], [1, 1], [0, 0]],
                    constant_values=1.0)
    degenerate = border * tf.cast(image, tf.float32) + (1.0 - border) * smooth
    return _blend(degenerate, image, factor)


def _cutout(image: Any, half: int, seed: Any) -> Any:
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    cy = tf.random.stateless_uniform([], seed, maxval=h, dtype=tf.int32)
    cx = tf.random.stateless_uniform([], seed + 1, maxval=w, dtype=tf.int32)
    rows = tf.range(h)[:, None, None]
    cols = tf.range(w)[None, :, None]
    inside = (rows >= cy - half) & (rows < cy + half) & (cols >= cx - half) & (cols < cx + half)
    return tf.where(inside, tf.constant(FILL, tf.uint8), image)


def _grey(image: Any) -> Any:
    return tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))


def _ops(image: Any, magnitude: float, seed: Any) -> list[Any]:
    """The 16 ops as zero-argument branches (for ``tf.switch_case``)."""
    level = magnitude / MAX_LEVEL
    sign = tf.where(tf.random.stateless_uniform([], seed) < 0.5, -1.0, 1.0)
    enhance = level * 1.8 + 0.1
    shear, shift = sign * level * 0.3, sign * level * 100.0
    bits = int(level * 4)
    threshold = int(level * 256)
    addition = int(level * 110)

    def solarize_add() -> Any:
        added = tf.cast(tf.clip_by_value(tf.cast(image, tf.int32) + addition, 0, 255), tf.uint8)
        return tf.where(image < 128, added, image)

    def contrast() -> Any:
        mean = tf.reduce_mean(tf.cast(tf.image.rgb_to_grayscale(image), tf.float32))
        return _blend(tf.fill(tf.shape(image), mean), image, enhance)

    return [
        lambda: _autocontrast(image),
        lambda: _equalize(image),
        lambda: 255 - image,
        lambda: _rotate(image, sign * level * 30.0),
        lambda: tf.bitwise.left_shift(tf.bitwise.right_shift(image, 8 - bits), 8 - bits),
        lambda: tf.where(tf.cast(image, tf.int32) < threshold, image, 255 - image),
        lambda: _blend(_grey(image), image, enhance),
        contrast,
        lambda: _blend(tf.zeros_like(image), image, enhance),
        lambda: _sharpness(image, enhance),
        lambda: _affine(image, [1.0, shear, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
        lambda: _affine(image, [1.0, 0.0, 0.0, shear, 1.0, 0.0, 0.0, 0.0]),
        lambda: _affine(image, [1.0, 0.0, -shift, 0.0, 1.0, 0.0, 0.0, 0.0]),
        lambda: _affine(image, [1.0, 0.0, 0.0, 0.0, 1.0, -shift, 0.0, 0.0]),
        lambda: _cutout(image, int(level * 40), seed),
        solarize_add,
    ]


NUM_OPS = 16


def randaugment(image: Any, num_layers: int, magnitude: float, seed: Any) -> Any:
    """Apply ``num_layers`` uniformly chosen ops to a uint8 ``[H, W, 3]`` image."""
    for layer in range(num_layers):
        layer_seed = tf.random.experimental.stateless_fold_in(seed, layer)
        choice_seed, op_seed = tf.unstack(
            tf.random.experimental.stateless_split(layer_seed, 2))
        choice = tf.random.stateless_uniform([], choice_seed, maxval=NUM_OPS, dtype=tf.int32)
        image = tf.switch_case(choice, _ops(image, magnitude, op_seed))
        image = tf.ensure_shape(image, [None, None, 3])
    return image
