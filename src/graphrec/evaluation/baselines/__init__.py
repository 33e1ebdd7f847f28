"""Baselines evaluated next to GraphSAGE on the same split, each an ``EvaluatedModel``."""

from graphrec.evaluation.baselines.als import ImplicitALS
from graphrec.evaluation.baselines.ease import EASE
from graphrec.evaluation.baselines.item_knn import ItemKNN
from graphrec.evaluation.baselines.most_popular import MostPopular
from graphrec.evaluation.baselines.traversal import TraversalRecommender

__all__ = ["EASE", "ImplicitALS", "ItemKNN", "MostPopular", "TraversalRecommender"]
