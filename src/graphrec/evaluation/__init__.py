"""Offline evaluation: split protocols, ranking metrics, baselines and the comparison report."""
