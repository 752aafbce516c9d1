"""Measure the ImageNet input pipeline's throughput per CPU core.

    python -m algoperf_ray.workloads.imagenet_resnet.bench_pipeline --threads 1

Runs the real preprocessing (:mod:`.input_pipeline`: JPEG decode of the crop
window, bicubic resize to 224, flip, normalisation; the ViT adds RandAugment
and mixup) on in-memory JPEGs of ImageNet's typical size (500x375, quality
90, about 100 KB, like the TFDS records), so disk and TFRecord parsing are
left out. ``--threads`` caps tf.data's thread pool; ``examples_per_cpu_sec``
(examples per CPU-second of the process) is the per-core figure, valid
also on a machine shared with other work. With the reference's step times this tells
how many cores 8 GPUs need (see the README section of the ImageNet
workloads).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from algoperf_ray.workloads._imagenet_common_fake import jpeg_bytes
from algoperf_ray.workloads.imagenet_resnet import input_pipeline as ip
from algoperf_ray.workloads.imagenet_resnet.metadata import TRAIN_MEAN, TRAIN_STDDEV


def encoded_dataset(num_images: int, height: int = 375, width: int = 500) -> object:
    """A tf.data.Dataset of ``{'image': JPEG bytes, 'label'}`` held in memory."""
    import tensorflow as tf

    gen = np.random.default_rng(0)
    images = [jpeg_bytes(gen, height, width) for _ in range(num_images)]
    labels = gen.integers(0, 1000, num_images).astype(np.int64)
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})


def measure(kind: str, threads: int, batch_size: int, num_batches: int,
            num_images: int = 64) -> dict:
    """Examples/s of ``kind`` (resnet_train, vit_train, eval) with ``threads`` threads."""
    extras = {"randaug_layers": 2, "mixup_alpha": 0.2} if kind == "vit_train" else {}
    cfg = ip.ImagenetConfig(mean=TRAIN_MEAN, stddev=TRAIN_STDDEV, **extras)
    ds = encoded_dataset(num_images)
    train = kind != "eval"
    if not train:
        ds = ds.repeat(-(-batch_size * (num_batches + 1) // num_images))
    it = ip.imagenet_batches(ds, cfg, batch_size, train, seed=0, threads=threads)
    next(it)  # warm up (graph tracing, thread start)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(num_batches):
        batch = next(it)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    assert batch["inputs"].shape == (batch_size, 224, 224, 3)
    examples = batch_size * num_batches
    # CPU seconds (all threads) are robust to other load on the machine; the
    # prefetch of the next batches makes this a slight overestimate of the cost.
    return {"kind": kind, "threads": threads,
            "examples_per_sec": round(examples / seconds, 1),
            "examples_per_cpu_sec": round(examples / cpu_seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--num-batches", type=int, default=5)
    ap.add_argument("--kinds", default="resnet_train,vit_train,eval")
    args = ap.parse_args()
    for kind in args.kinds.split(","):
        print(json.dumps(measure(kind, args.threads, args.batch_size, args.num_batches)),
              flush=True)


if __name__ == "__main__":
    main()
