"""Baseline submissions written for algoperf-ray.

Each baseline is a folder ``<name>/{jax,pytorch}/submission.py`` with a
``tuning_search_space.json``; shared, framework-specific training steps live
in :mod:`submissions._shared` so every optimizer is only its update rule.
"""
