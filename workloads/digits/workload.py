"""Framework-neutral part of the digits workload: the host data pipeline.

digits is the offline default workload: scikit-learn's bundled 8x8 images
(split fixed in :mod:`workloads.digits.input_pipeline`), a 64-128-10 ReLU MLP in both
frameworks. Its target (validation/test accuracy 0.97), budget (30 s), eval
period (1 s) and step hint (400) were chosen from NadamW measurements; how
is written down in :mod:`workloads.digits.metadata`.
"""

from __future__ import annotations

from collections.abc import Iterator

from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workloads import _tfds
from algoperf_ray.workloads.digits import input_pipeline


class DigitsWorkload(BaseWorkload):
    """digits, framework-neutral: the train/eval numpy batches."""

    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[dict]:
        del data_dir  # bundled with scikit-learn
        arrays = input_pipeline.split_arrays(split, self.meta.train_mean, self.meta.train_stddev,
                                   self.meta.num_eval_train_examples)
        if train:
            return _tfds.array_train_batches(arrays, global_batch_size, seed)
        return _tfds.array_eval_batches(arrays, global_batch_size)
