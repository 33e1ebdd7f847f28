"""Evaluation's parts: the ``EvaluatedModel`` interface, split protocols, ranking metrics, intervals and
paired tests, baselines and the comparison report.

The parts only: :mod:`graphrec.offline` (a higher layer) puts them together into ``graphrec evaluate``.
"""
