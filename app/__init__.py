"""Gavel: a desktop governance console for machine-learning models."""

__version__ = "0.1.0"
