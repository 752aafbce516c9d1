"""Framework-neutral part of mnist: the workload class over the TFDS pipeline.

The pipeline itself (split names, preprocessing) is in ``input_pipeline.py``;
the leaves add the model through the shared classifier code.
"""

from __future__ import annotations

from collections.abc import Iterator

from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workloads.mnist import input_pipeline


class MnistWorkload(BaseWorkload):
    """mnist, framework-neutral: the train/eval numpy batches (TFDS)."""

    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[dict]:
        return input_pipeline.mnist_batches(
            split, data_dir, global_batch_size, train, seed, self.meta.train_mean,
            self.meta.train_stddev, self.num_train_examples, self.num_validation_examples)
