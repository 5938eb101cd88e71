"""Declarative measurement pipelines (TOML files shipped with skinmetrics)."""
