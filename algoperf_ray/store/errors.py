"""The store's error and warning types (one module, so every store module can raise them)."""

from __future__ import annotations


class StoreError(ValueError):
    """The store cannot serve a request; the message names the store or file and the fix."""


class StoreWarning(UserWarning):
    """A store file was damaged or missing and was worked around (rebuilt or skipped)."""
