"""Insight into one model version: lineage graph, metrics across versions, comparison."""
