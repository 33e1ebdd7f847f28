"""Offline experiments: GraphSAGE against the baselines on one split (``graphrec evaluate``)."""
