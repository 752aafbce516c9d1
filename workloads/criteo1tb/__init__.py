"""Criteo 1TB click-through prediction with DLRMsmall."""
