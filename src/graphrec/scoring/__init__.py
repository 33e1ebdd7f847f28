"""Scoring rules shared by training, evaluation and serving: the capped co-interaction traversal and
the embedding/graph blend. One definition each, so offline numbers and served answers agree."""
