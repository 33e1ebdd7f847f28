"""Offline evaluation: models measured on held-out data, never on live traffic.

``graphrec evaluate`` (:mod:`graphrec.offline.runner`: GraphSAGE against the baselines on seeded
splits; ``--protocol new-users`` runs the new-user protocol), ``graphrec runs``
(:mod:`graphrec.offline.runs`: training runs side by side), and the new-user protocol with the tuner
``graphrec train`` uses for the new-user blend. Named apart from "experiment", which in graphrec means an
online A/B test only (``graphrec experiment``, the API's ``experiment``/``arm`` fields,
:mod:`graphrec.serving.experiments`); and apart from :mod:`graphrec.evaluation`, the lower layer of
metrics, splits and baselines this package puts together.
"""
