"""Measurement stages: one module per skin layer, each a set of pure functions over arrays."""
