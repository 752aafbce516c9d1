"""The results store: eval and trial rows as partitioned Parquet (see ``schema``).

Every write is a transaction published by one manifest rename (see ``txn``).
Importing this package needs only pyarrow, never torch, jax or tensorflow.
"""

from algoperf_ray.store.errors import StoreError, StoreWarning
from algoperf_ray.store.io import Store, TrialKey, keys_of
from algoperf_ray.store.schema import SCHEMA_VERSION, SchemaError

__all__ = ["SCHEMA_VERSION", "SchemaError", "Store", "StoreError", "StoreWarning", "TrialKey",
           "keys_of"]
