"""GraphSAGE recommender: encoder, sparse message passing, BPR training, artifacts, inference."""

from graphrec.model.artifact import ModelArtifact
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.graphsage import GraphSAGERec
from graphrec.model.trainer import Trainer, TrainResult

__all__ = ["EncoderConfig", "GraphSAGERec", "ModelArtifact", "TrainConfig", "TrainResult", "Trainer"]
