"""The results store: eval and trial rows as partitioned Parquet (see ``schema``).

Importing this package needs only pyarrow, never torch, jax or tensorflow.
"""

from algoperf_ray.store.io import Store, StoreError, TrialKey, keys_of
from algoperf_ray.store.schema import SCHEMA_VERSION, SchemaError

__all__ = ["SCHEMA_VERSION", "SchemaError", "Store", "StoreError", "TrialKey", "keys_of"]
