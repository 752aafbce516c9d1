"""Reuses the tiny-LibriSpeech fixtures of the Conformer tests (same data, same setup)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "librispeech_shared_conftest",
    Path(__file__).resolve().parents[1] / "workloads_librispeech_conformer" / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

librispeech_raw = _shared.librispeech_raw
librispeech_data = _shared.librispeech_data
