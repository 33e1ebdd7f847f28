"""Recommendation serving logic: candidates (ANN + traversal), blending, filters, diversity, explanations.

Everything here is pure or talks to the store / model through explicit arguments; the API layer
(``api/``) turns results into HTTP responses.
"""
