"""ImageNet input pipeline for both ImageNet families, framework-neutral.

Reads the TFDS ``imagenet2012`` (train, eval_train, validation) and
``imagenet_v2/matched-frequency`` (test) datasets with tf.data and yields
GLOBAL numpy batches (NHWC float32 images, int32 labels), which both the
JAX and the PyTorch leaves consume; no torchvision. Preprocessing follows
the reference (facts from ``algoperf/workloads/imagenet_resnet``):

* train: a random crop covering 8%-100% of the image with aspect ratio in
  [3/4, 4/3] (``sample_distorted_bounding_box``, 10 attempts, falling back to
  the eval center crop), bicubic resize to ``image_size``, a random
  left-right flip, optional RandAugment (ViT) and per-channel
  normalisation with the train mean/stddev (0..255 scale); optional mixup
  over the batch (ViT) makes the targets soft one-hot vectors;
* eval: the center square of side ``image_size / resize_size`` times the
  shorter side, bicubic resize to ``image_size``, normalisation; one ordered
  pass whose last batch is padded with ``weights == 0``.

Randomness is stateless: every example's crop/flip seed is folded from the
data seed and its position in the (repeated) stream, so a run is
reproducible. ``eval_train`` is the first ``num_eval_train_examples``
images of the TFDS train split (TFDS stores examples in a shuffled order, so
this is a class-balanced-in-expectation fixed subset).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

from algoperf_ray.workloads import _tfds

IMAGENET = "imagenet2012:5.1.0"
IMAGENET_V2 = "imagenet_v2/matched-frequency:3.0.0"


@dataclasses.dataclass(frozen=True)
class ImagenetConfig:
    """Everything the preprocessing needs; the ViT adds RandAugment and mixup."""

    mean: tuple[float, float, float]
    stddev: tuple[float, float, float]
    image_size: int = 224
    resize_size: int = 256
    area_range: tuple[float, float] = (0.08, 1.0)
    aspect_ratio_range: tuple[float, float] = (0.75, 4.0 / 3.0)
    randaug_layers: int = 0  # 0: no RandAugment
    randaug_magnitude: int = 10
    mixup_alpha: float | None = None  # None: no mixup
    num_classes: int = 1000


def tfds_source(split: str) -> tuple[str, str]:
    """(TFDS dataset, TFDS split) of one benchmark split."""
    table = {"train": (IMAGENET, "train"), "eval_train": (IMAGENET, "train"),
             "validation": (IMAGENET, "validation"), "test": (IMAGENET_V2, "test")}
    if split not in table:
        raise ValueError(f"unknown imagenet split {split!r}; valid: {', '.join(table)}.")
    return table[split]


def load_encoded(name: str, split: str, data_dir: str | None, shuffle_seed: int | None,
                 limit: int | None = None) -> Any:
    """A tf.data.Dataset of ``{'image': <JPEG bytes>, 'label'}`` (images not decoded).

    ``limit`` keeps the split's first examples (at most as many as it has).

    Decoding is left to the preprocessing so the train crop can decode only
    the cropped window (``decode_and_crop_jpeg``), as the reference does.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    read_config = tfds.ReadConfig(shuffle_seed=shuffle_seed)
    try:
        if limit is not None:
            split = f"{split}[:{min(limit, builder.info.splits[split].num_examples)}]"
        return builder.as_dataset(split=split, shuffle_files=shuffle_seed is not None,
                                  read_config=read_config,
                                  decoders={"image": tfds.decode.SkipDecoding()})
    except (AssertionError, KeyError) as e:  # tfds: AssertionError for missing data
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared under data_dir={data_dir!r}: {e}. "
            "Prepare it once with `python scripts/setup_imagenet.py --data-dir <DIR> "
            "--manual-dir <DIR WITH THE ILSVRC2012 TARS>` and pass --data-dir <DIR>.") from e


def _resize(image: Any, size: int) -> Any:
    import tensorflow as tf

    return tf.image.resize([image], [size, size], method=tf.image.ResizeMethod.BICUBIC)[0]


def decode_center_crop(image_bytes: Any, cfg: ImagenetConfig) -> Any:
    """The eval view: the central square (image/resize of the short side), resized."""
    import tensorflow as tf

    shape = tf.io.extract_jpeg_shape(image_bytes)
    height, width = shape[0], shape[1]
    side = tf.cast(cfg.image_size / cfg.resize_size
                   * tf.cast(tf.minimum(height, width), tf.float32), tf.int32)
    window = tf.stack([(height - side + 1) // 2, (width - side + 1) // 2, side, side])
    image = tf.io.decode_and_crop_jpeg(image_bytes, window, channels=3)
    return _resize(image, cfg.image_size)


def decode_random_crop(image_bytes: Any, seed: Any, cfg: ImagenetConfig) -> Any:
    """The train view: a random area/aspect crop resized to ``image_size``.

    When no acceptable crop is found in 10 attempts the sampler returns the
    whole image; as in the reference, the eval center crop is used then.
    """
    import tensorflow as tf

    shape = tf.io.extract_jpeg_shape(image_bytes)
    whole = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, shape=[1, 1, 4])
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape, bounding_boxes=whole, seed=seed, min_object_covered=0.1,
        aspect_ratio_range=cfg.aspect_ratio_range, area_range=cfg.area_range,
        max_attempts=10, use_image_if_no_bounding_boxes=True)
    window = tf.stack([begin[0], begin[1], size[0], size[1]])
    failed = tf.reduce_all(tf.equal(size[:2], shape[:2]))
    return tf.cond(
        failed, lambda: decode_center_crop(image_bytes, cfg),
        lambda: _resize(tf.io.decode_and_crop_jpeg(image_bytes, window, channels=3),
                        cfg.image_size))


def make_preprocess(cfg: ImagenetConfig, train: bool, seed: int):
    """The tf.data map function ``(index, example) -> {'inputs', 'targets'}``."""
    import tensorflow as tf

    mean = tf.constant(cfg.mean, tf.float32, shape=[1, 1, 3])
    stddev = tf.constant(cfg.stddev, tf.float32, shape=[1, 1, 3])
    base = tf.constant([seed, 0], tf.int64)

    def preprocess(index: Any, example: dict) -> dict:
        if train:
            seeds = tf.random.experimental.stateless_split(
                tf.random.experimental.stateless_fold_in(base, index), 3)
            image = decode_random_crop(example["image"], seeds[0], cfg)
            image = tf.reshape(image, [cfg.image_size, cfg.image_size, 3])
            image = tf.image.stateless_random_flip_left_right(image, seeds[1])
            if cfg.randaug_layers:
                from algoperf_ray.workloads.imagenet_vit import randaugment

                image = tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)
                image = randaugment.randaugment(image, cfg.randaug_layers,
                                                cfg.randaug_magnitude, seeds[2])
        else:
            image = decode_center_crop(example["image"], cfg)
            image = tf.reshape(image, [cfg.image_size, cfg.image_size, 3])
        image = (tf.cast(image, tf.float32) - mean) / stddev
        return {"inputs": image, "targets": tf.cast(example["label"], tf.int32)}

    return preprocess


def make_mixup(cfg: ImagenetConfig, seed: int):
    """tf.data map over ``(batch_index, batch)``: mix each image with its neighbour.

    One mixing weight per batch, ``w = g_a / (g_a + g_b)`` with
    ``g ~ Gamma(alpha)`` (a Beta(alpha, alpha) draw), applied to the images
    and to one-hot targets, the partner being the previous example
    (``roll`` by one), as the reference does.
    """
    import tensorflow as tf

    base = tf.constant([seed, 1], tf.int64)
    alpha = float(cfg.mixup_alpha)

    def mixup(batch_index: Any, batch: dict) -> dict:
        key_a = tf.random.experimental.stateless_fold_in(base, batch_index)
        key_b = tf.random.experimental.stateless_fold_in(key_a, 0)
        gamma_a = tf.random.stateless_gamma((1,), key_a, alpha)
        gamma_b = tf.random.stateless_gamma((1,), key_b, alpha)
        weight = tf.squeeze(gamma_a / (gamma_a + gamma_b))
        targets = tf.one_hot(batch["targets"], cfg.num_classes)
        return {"inputs": weight * batch["inputs"]
                + (1.0 - weight) * tf.roll(batch["inputs"], 1, axis=0),
                "targets": weight * targets + (1.0 - weight) * tf.roll(targets, 1, axis=0)}

    return mixup


def imagenet_batches(ds: Any, cfg: ImagenetConfig, global_batch_size: int, train: bool,
                     seed: int, threads: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Global numpy batches from an encoded dataset (see :func:`load_encoded`).

    Train: repeat, shuffle (buffer of 16 batches), augment, drop the last
    partial batch, mixup if configured. Eval: one ordered pass, the last
    batch padded with ``weights == 0``. ``threads`` caps tf.data's private
    thread pool (the throughput benchmark uses it to measure one core).
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if threads:
        options = tf.data.Options()
        options.threading.private_threadpool_size = threads
        options.threading.max_intra_op_parallelism = 1
        ds = ds.with_options(options)
    if train:
        ds = ds.repeat().shuffle(16 * global_batch_size, seed=seed)
    ds = ds.enumerate().map(make_preprocess(cfg, train, seed),
                            num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(global_batch_size, drop_remainder=train)
    if train and cfg.mixup_alpha:
        ds = ds.enumerate().map(make_mixup(cfg, seed), num_parallel_calls=tf.data.AUTOTUNE)
    for batch in tfds.as_numpy(ds.prefetch(tf.data.AUTOTUNE)):
        batch = {k: np.asarray(v) for k, v in batch.items()}
        yield batch if train else _tfds.pad_batch(batch, global_batch_size)


def split_batches(split: str, data_dir: str | None, global_batch_size: int, train: bool,
                  seed: int, cfg: ImagenetConfig,
                  num_eval_train: int) -> Iterator[dict[str, np.ndarray]]:
    """Batches of one benchmark split: the entry point the workloads call."""
    name, tfds_split = tfds_source(split)
    limit = num_eval_train if split == "eval_train" else None
    ds = load_encoded(name, tfds_split, data_dir, shuffle_seed=seed if train else None,
                      limit=limit)
    return imagenet_batches(ds, cfg, global_batch_size, train, seed)
