"""Training loop for ``GraphSAGERec``: BPR with uniform + hard negatives, early stopping, refit.

Full-graph mode recomputes every node's embedding per batch with sparse products (exact gradients,
fastest while the graph fits); sampled mode expands only the batch's nodes through
``NeighborSampler`` blocks, so peak memory depends on the batch, not on the graph.

Early stopping watches Recall@K on a per-user validation holdout carved from the training
snapshot. With ``refit`` the model is then retrained on all training edges for the best epoch count
(baselines also see all training edges, so the comparison stays fair).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from graphrec.data.errors import UserError
from graphrec.evaluation.splits import Split, holdout
from graphrec.model.adjacency import BipartiteAdjacency
from graphrec.model.checkpoint import Checkpoint, fingerprint
from graphrec.model.config import TrainConfig, resolve_device, resolve_threads
from graphrec.model.content import ContentEncoder
from graphrec.model.distributed import Ranks
from graphrec.model.graphsage import GraphSAGERec
from graphrec.model.losses import bpr_loss, embedding_l2, softmax_loss
from graphrec.model.negative_sampler import NegativeSampler
from graphrec.model.neighbor_sampler import NeighborSampler
from graphrec.model.sparse_ops import pair_to, spmm
from graphrec.model.validation import validation_metrics
from graphrec.progress import EpochProgress, Mode
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)


def item_content(snapshot: Snapshot, config: TrainConfig) -> tuple[ContentEncoder | None, torch.Tensor | None]:
    """The content encoder fitted on the snapshot's catalogue and every item's feature row
    ``[categories | title text]`` (:mod:`graphrec.model.content`); ``(None, None)`` when the encoder
    takes no features or the snapshot has no content. Without titles the rows are the row-normalised
    category multi-hot, the features GraphSAGE always had."""
    if not config.encoder.use_features:
        return None, None
    encoder = ContentEncoder.fit(snapshot, config.content, seed=config.seed)
    if encoder is None:
        return None, None
    return encoder, torch.from_numpy(encoder.snapshot_features(snapshot))


def validation_split(train: Snapshot, config: TrainConfig) -> Split:
    """The early-stopping holdout :meth:`Trainer.fit` carves from ``train`` (``config.validation_fraction``
    of each user's edges, by ``config.validation_protocol``): one home, so a benchmark can train a baseline on
    exactly the edges the trainer trained and validated on."""
    return holdout(config.validation_protocol)(train, test_fraction=config.validation_fraction, seed=config.seed + 1)


@dataclass
class TrainResult:
    """A trained encoder with the graph it was trained on and the learning curve."""

    model: GraphSAGERec
    adjacency: BipartiteAdjacency
    item_features: torch.Tensor | None
    content: ContentEncoder | None = None  # what turned the catalogue into item_features
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("nan")
    seconds: float = 0.0
    seconds_per_epoch: float = 0.0
    mode: str = "full"

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """``(user_embeddings, item_embeddings)`` as float32 numpy arrays."""
        self.model.eval()
        u, i = self.model.get_embedding(self.adjacency.propagate, self.item_features)
        return u.cpu().numpy().copy(), i.cpu().numpy().copy()


class Trainer:
    """Fits ``GraphSAGERec`` on a snapshot.

    Args:
        config: hyperparameters (seeded: the same config and snapshot give the same model).
        progress: ``True``/``"auto"`` a bar on a terminal and one line per evaluation otherwise,
            ``"lines"``, ``"bar"``, or ``False``/``"off"`` (see :mod:`graphrec.progress`).
        checkpoint_dir: where each phase saves a :class:`~graphrec.model.checkpoint.Checkpoint` every
            ``config.checkpoint_every`` epochs and when it ends; a run given the same directory, config
            and snapshot resumes from it (None: no checkpoints).
        ranks: train data-parallel as one of these ranks (:mod:`graphrec.model.distributed`; the
            process group must be up): each epoch's edge order is drawn alike on every rank and each
            takes its equal slice, ``config.batch_size`` is the global batch (each rank takes
            ``batch_size / world_size``), DDP averages the gradients, and rank 0 decides early stopping.
            Sampled mode trains the id tables with dense gradients and Adam here (NCCL has no sparse
            all-reduce), so it is not step-for-step the one-process SparseAdam run. Checkpoints are not
            supported with ranks (the refusal says so).
        after_step: called with the model after every optimiser step (tests watch the ranks in lockstep).
        after_epoch: called with each epoch's history row (``epoch``, ``loss``, ``seconds``, and the validation
            metrics on evaluated epochs) once the epoch and its early-stopping check are done, in every phase;
            returning True ends the phase there as early stopping does (the best validated weights are kept).
            ``bench/train.py`` times the evaluations and enforces its wall budget with it.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        progress: Mode | bool = True,
        checkpoint_dir: Path | None = None,
        ranks: Ranks | None = None,
        after_step: Callable[[GraphSAGERec], None] | None = None,
        after_epoch: Callable[[dict[str, float]], bool] | None = None,
    ) -> None:
        if ranks is not None and checkpoint_dir is not None:
            raise ValueError(
                "checkpoints (--checkpoint-dir) are not supported with distributed training yet: drop one of them"
            )
        self.config = config
        self.device = torch.device("cpu")  # resolved from config.device when fit() starts
        self.progress = progress if ranks is None or ranks.is_main else False
        self.checkpoint_dir = checkpoint_dir
        self.ranks = ranks
        self.after_step = after_step
        self.after_epoch = after_epoch

    # ------------------------------------------------------------------ public
    def fit(self, train: Snapshot) -> TrainResult:
        """Early-stop on a validation holdout, then (``refit``) retrain on everything."""
        cfg = self.config
        if train.n_edges == 0 or not np.any(train.weights > 0):
            # an empty or all-zero adjacency trains id embeddings with no message passing at all, and
            # validation recall still looks plausible: refuse instead (issue 17: 1997 data decayed to 0)
            raise UserError(
                f"refusing to train: the snapshot has {train.n_edges:,} edges and none with a "
                "positive weight (import data, or check the export's decay and weight filters)"
            )
        threads = resolve_threads(cfg.threads)
        if threads is not None:
            torch.set_num_threads(threads)
        self.device = resolve_device(cfg.device) if self.ranks is None else self.ranks.device
        logger.info("training on %s", self.device)
        started = time.perf_counter()
        # once for both phases: a validation split holds the same items, titles and categories
        content, features = item_content(train, cfg)
        if cfg.validation_fraction <= 0:
            result = self._run(train, None, cfg.epochs, features, phase="fit")
        else:
            split = validation_split(train, cfg)
            result = self._run(split.train, split.test, cfg.epochs, features, phase="fit")
            if cfg.refit:
                history = result.history
                best_epoch, best_metric = result.best_epoch, result.best_metric
                result = self._run(
                    train, None, max(best_epoch, 1), features, desc="refit on all edges, epoch", phase="refit"
                )
                result.history, result.best_epoch, result.best_metric = history, best_epoch, best_metric
            else:  # keep the weights, serve with the whole training graph (the encoder is inductive)
                result.adjacency = BipartiteAdjacency(train.matrix("weights"), aggr=cfg.encoder.aggr)
        result.seconds = time.perf_counter() - started
        result.content = content
        # serving, inductive inference and the artifact all run on the host: the model comes back here
        result.model.cpu()
        result.adjacency = result.adjacency.to(torch.device("cpu"))
        if result.item_features is not None:
            result.item_features = result.item_features.cpu()
        return result

    # ------------------------------------------------------------------ internals
    def _mode(self, train: Snapshot) -> str:
        if self.config.mode != "auto":
            return self.config.mode
        return "full" if train.n_edges <= self.config.full_graph_max_edges else "sampled"

    def _run(
        self,
        train: Snapshot,
        validation: sp.csr_matrix | None,
        epochs: int,
        features: torch.Tensor | None,
        *,
        desc: str = "epoch",
        phase: str = "fit",
    ) -> TrainResult:
        cfg = self.config
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank (DDP broadcasts rank 0's anyway)
        ranks = self.ranks
        rng = np.random.default_rng(cfg.seed if ranks is None else [cfg.seed, ranks.rank])
        # the epoch's edge order: alike on every rank, which then take disjoint slices of it
        order_rng = rng if ranks is None else np.random.default_rng(cfg.seed)
        device = self.device
        user_items = train.matrix("weights")
        adjacency = BipartiteAdjacency(user_items, aggr=cfg.encoder.aggr).to(device)
        mode = self._mode(train)
        # built (and so initialised from the seeded CPU generator) on the host, then moved: the same seed
        # starts from the same weights on every device
        model = GraphSAGERec(
            train.n_users,
            train.n_items,
            0 if features is None else features.shape[1],
            cfg.encoder,
            sparse_embeddings=(mode == "sampled" and ranks is None),
        ).to(device)
        sparse = mode == "sampled" and ranks is None
        if features is not None:
            features = features.to(device)
        dense_params = [p for n, p in model.named_parameters() if not n.endswith("embedding.weight")]
        id_tables = [model.user_embedding.weight, model.item_embedding.weight]
        optimizers: list[torch.optim.Optimizer] = [
            torch.optim.Adam(
                [{"params": dense_params, "weight_decay": cfg.weight_decay}]
                + ([] if sparse else [{"params": id_tables, "weight_decay": 0.0}]),
                lr=cfg.lr,
            )
        ]
        if sparse:
            optimizers.append(torch.optim.SparseAdam(id_tables, lr=cfg.lr))
        negatives = NegativeSampler(user_items, rng)
        sampler = (
            NeighborSampler(adjacency.block, cfg.fanouts[: cfg.encoder.layers], rng) if mode == "sampled" else None
        )
        edge_users = train.rows
        edge_items = train.indices
        result = TrainResult(model=model, adjacency=adjacency, item_features=features, mode=mode)
        best_state: dict[str, torch.Tensor] | None = None
        stale = 0
        epoch_times: list[float] = []
        first = 1
        path = None if self.checkpoint_dir is None else self.checkpoint_dir / f"{phase}.pt"
        expected = fingerprint(cfg.model_dump_json(), train.manifest.get("content_hash"), f"{phase}:{epochs}")
        saved = None if path is None else Checkpoint.load(path, expected=expected)
        if saved is not None:
            model.load_state_dict(saved.model)  # copies into the model's device, wherever it was saved from
            for opt, state in zip(optimizers, saved.optimizers, strict=True):
                opt.load_state_dict(state)
            rng.bit_generator.state = saved.numpy_rng  # in place: the samplers hold this generator
            torch.set_rng_state(saved.torch_rng)
            best_state, stale, epoch_times = saved.best_state, saved.stale, list(saved.epoch_times)
            result.best_metric, result.best_epoch, result.history = (
                saved.best_metric,
                saved.best_epoch,
                list(saved.history),
            )
            first = epochs + 1 if saved.complete else saved.epoch + 1
            logger.info(
                "resuming %s from its checkpoint after epoch %d%s",
                phase,
                saved.epoch,
                " (phase complete)" if saved.complete else "",
            )

        step = None if ranks is None else ranks.wrap(model)

        def checkpoint(epoch: int, *, complete: bool = False) -> None:
            if path is None:
                return
            Checkpoint(
                fingerprint=expected,
                epoch=epoch,
                model=model.state_dict(),
                optimizers=[opt.state_dict() for opt in optimizers],
                numpy_rng=dict(rng.bit_generator.state),
                torch_rng=torch.get_rng_state(),
                best_state=best_state,
                best_metric=result.best_metric,
                best_epoch=result.best_epoch,
                stale=stale,
                history=result.history,
                epoch_times=epoch_times,
                complete=complete,
            ).save(path)

        report = EpochProgress(epochs, self.progress, desc=desc, metric=f"recall@{cfg.metric_k}")
        epoch = first - 1
        for epoch in range(first, epochs + 1):
            t0 = time.perf_counter()
            model.train()
            loss = self._epoch(
                model,
                adjacency,
                features,
                negatives,
                sampler,
                edge_users,
                edge_items,
                optimizers,
                (rng, order_rng),
                train.n_users,
                step,
            )
            epoch_times.append(time.perf_counter() - t0)
            row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": epoch_times[-1]}
            if validation is not None and (epoch % cfg.eval_every == 0 or epoch == epochs):
                metrics = self._agreed_validation(model, adjacency, features, user_items, validation)
                row.update(metrics)
                key = f"recall@{cfg.metric_k}"
                if np.isnan(result.best_metric) or metrics[key] > result.best_metric:
                    result.best_metric, result.best_epoch = metrics[key], epoch
                    best_state = copy.deepcopy(model.state_dict())
                    stale = 0
                else:
                    stale += 1
                report.epoch(epoch, loss, value=metrics[key], best=result.best_metric, best_epoch=result.best_epoch)
                if stale >= cfg.patience:
                    result.history.append(row)
                    report.stopped_early(epoch, result.best_epoch)
                    if self.after_epoch is not None:
                        self.after_epoch(row)
                    break
            else:
                report.epoch(epoch, loss)
            result.history.append(row)
            if self.after_epoch is not None and self.after_epoch(row):
                break
            if cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
                checkpoint(epoch)
        report.close()
        checkpoint(max(epoch, 0), complete=True)
        if validation is None:
            result.best_epoch = len(epoch_times)
        elif best_state is not None:
            model.load_state_dict(best_state)
        result.seconds_per_epoch = float(np.mean(epoch_times)) if epoch_times else 0.0
        return result

    def _epoch(
        self,
        model: GraphSAGERec,
        adjacency: BipartiteAdjacency,
        features: torch.Tensor | None,
        negatives: NegativeSampler,
        sampler: NeighborSampler | None,
        edge_users: np.ndarray,
        edge_items: np.ndarray,
        optimizers: list[torch.optim.Optimizer],
        rngs: tuple[np.random.Generator, np.random.Generator],
        n_users: int,
        step: Callable[[Callable[[], torch.Tensor]], torch.Tensor] | None,
    ) -> float:
        """One pass over the (capped) edge order; ``rngs``: (this rank's sampling generator, the edge-order
        generator every rank shares); ``step``: the DDP wrapper that runs a batch's loss (None: one process)."""
        cfg = self.config
        rng, order_rng = rngs
        order = order_rng.permutation(len(edge_users))
        if cfg.steps_per_epoch is not None:
            order = order[: cfg.steps_per_epoch * cfg.batch_size]
        batch_size = cfg.batch_size
        if self.ranks is not None:
            order, batch_size = self.ranks.shard(order), self.ranks.per_rank_batch(cfg.batch_size)
        total, batches = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            users, pos = edge_users[idx], edge_items[idx]

            def batch_loss(users: np.ndarray = users, pos: np.ndarray = pos) -> torch.Tensor:
                return self._batch_loss(model, adjacency, features, negatives, sampler, users, pos, rng, n_users)

            loss = batch_loss() if step is None else step(batch_loss)
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch declares Tensor.backward without annotations
            for opt in optimizers:
                opt.step()
            if self.after_step is not None:
                self.after_step(model)
            total += float(loss.detach())
            batches += 1
        mean = total / max(batches, 1)
        return mean if self.ranks is None else self.ranks.mean(mean)

    def _batch_loss(
        self,
        model: GraphSAGERec,
        adjacency: BipartiteAdjacency,
        features: torch.Tensor | None,
        negatives: NegativeSampler,
        sampler: NeighborSampler | None,
        users: np.ndarray,
        pos: np.ndarray,
        rng: np.random.Generator,
        n_users: int,
    ) -> torch.Tensor:
        """The configured loss (BPR or sampled softmax) of one batch of (user, positive) edges; ``negatives``
        per positive drawn here, uniform except the first column of a ``hard_negatives`` share of the rows."""
        cfg = self.config
        if cfg.loss == "softmax":
            return self._softmax_loss(model, adjacency, features, negatives, sampler, users, pos, rng, n_users)
        neg = negatives.uniform(users, cfg.negatives)
        n_hard = int(round(cfg.hard_negatives * len(users)))
        candidates = negatives.uniform(users[:n_hard], cfg.hard_candidates) if n_hard else None
        needed_items = np.concatenate([pos, neg.ravel()] + ([candidates.ravel()] if candidates is not None else []))
        lookup = self._embed(model, adjacency, features, sampler, users, needed_items, rng, n_users)
        b = len(users)
        if candidates is not None:
            with torch.no_grad():  # dynamic negative sampling: the highest-scoring candidate
                u_det = lookup(users[:n_hard])
                cand_emb = lookup(candidates.ravel() + n_users).view(n_hard, cfg.hard_candidates, -1)
                best = (cand_emb * u_det[:, None, :]).sum(-1).argmax(1).cpu().numpy()
            neg[:n_hard, 0] = candidates[np.arange(n_hard), best]
        # one gather for everything that needs a gradient: a single (costly) scatter in backward
        rows = lookup(np.concatenate([users, pos + n_users, neg.ravel() + n_users]))
        u_emb, p_emb, n_emb = rows[:b], rows[b : 2 * b], rows[2 * b :].view(b, cfg.negatives, -1)
        pos_scores = (u_emb * p_emb).sum(-1)
        neg_scores = (u_emb[:, None, :] * n_emb).sum(-1)
        return bpr_loss(pos_scores, neg_scores) + self._id_l2(model, users, np.concatenate([pos, neg.ravel()]))

    def _softmax_loss(
        self,
        model: GraphSAGERec,
        adjacency: BipartiteAdjacency,
        features: torch.Tensor | None,
        negatives: NegativeSampler,
        sampler: NeighborSampler | None,
        users: np.ndarray,
        pos: np.ndarray,
        rng: np.random.Generator,
        n_users: int,
    ) -> torch.Tensor:
        """Sampled softmax of each positive against ``negatives`` items the whole batch shares.

        Why shared: the scores are one ``(B, d) @ (d, N)`` product and the backward scatters ``N`` item rows,
        where per-user negatives would gather and scatter ``B * N`` rows (10x slower per epoch at N = 16 on
        ML-100K). A shared item that is one of the user's training positives is masked out of that row."""
        cfg = self.config
        shared = negatives.shared(cfg.negatives)
        lookup = self._embed(model, adjacency, features, sampler, users, np.concatenate([pos, shared]), rng, n_users)
        b = len(users)
        rows = lookup(np.concatenate([users, pos + n_users, shared + n_users]))
        u_emb, p_emb, n_emb = rows[:b], rows[b : 2 * b], rows[2 * b :]
        pos_scores = (u_emb * p_emb).sum(-1)
        known = torch.from_numpy(negatives.positive_mask(users, shared)).to(self.device)
        neg_scores = (u_emb @ n_emb.T).masked_fill(known, float("-inf"))
        return softmax_loss(pos_scores, neg_scores, cfg.temperature) + self._id_l2(
            model, users, np.concatenate([pos, shared])
        )

    def _id_l2(self, model: GraphSAGERec, users: np.ndarray, items: np.ndarray) -> torch.Tensor | float:
        """``reg`` times the L2 of the batch's layer-0 id embeddings (users, and the items it scored); 0 without
        ``reg``. One home for both losses."""
        if self.config.reg <= 0:
            return 0.0
        device = self.device
        return self.config.reg * embedding_l2(
            model.user_embedding(torch.from_numpy(users).to(device)),
            model.item_embedding(torch.from_numpy(items).to(device)),
        )

    def _ego(
        self, model: GraphSAGERec, features: torch.Tensor | None, rng: np.random.Generator, n_users: int
    ) -> torch.Tensor:
        ego = model.ego(features)
        p = self.config.user_id_dropout
        if p > 0:
            keep = torch.from_numpy((rng.random(n_users) >= p).astype(np.float32))
            mask = torch.cat([keep, torch.ones(ego.shape[0] - n_users)]).to(ego.device)
            ego = ego * mask[:, None]
        return ego

    def _embed(
        self,
        model: GraphSAGERec,
        adjacency: BipartiteAdjacency,
        features: torch.Tensor | None,
        sampler: NeighborSampler | None,
        users: np.ndarray,
        items: np.ndarray,
        rng: np.random.Generator,
        n_users: int,
    ) -> Callable[[np.ndarray], torch.Tensor]:
        """Final embeddings for the batch; returns a node-id -> rows lookup."""
        if sampler is None:
            out = model(adjacency.propagate, features, self._ego(model, features, rng, n_users))
            return lambda nodes: out[torch.from_numpy(np.asarray(nodes, dtype=np.int64)).to(out.device)]
        nodes = np.unique(np.concatenate([users, items + n_users]))
        inputs, blocks = sampler.sample(nodes)
        is_user = inputs < n_users
        device = self.device
        t_inputs = torch.from_numpy(inputs).to(device)
        h = torch.empty((len(inputs), model.config.dim), device=device)
        user_rows = torch.from_numpy(np.flatnonzero(is_user)).to(device)
        item_rows = torch.from_numpy(np.flatnonzero(~is_user)).to(device)
        h = h.index_copy(0, user_rows, model.user_embedding(t_inputs[user_rows]))
        h = h.index_copy(0, item_rows, model.item_ego(t_inputs[item_rows] - n_users, features))
        p = self.config.user_id_dropout
        if p > 0:
            keep = torch.from_numpy(np.where(is_user, rng.random(len(inputs)) >= p, True).astype(np.float32))
            h = h * keep.to(device)[:, None]
        n_final = len(nodes)
        outs = [h[:n_final]]
        for layer, block in enumerate(blocks):
            h = model.layer_step(layer, h[: block.n_targets], spmm(h, pair_to(block.pair, device)))
            outs.append(h[:n_final])
        final = model.combine(outs)
        return lambda q: final[torch.from_numpy(np.searchsorted(nodes, np.asarray(q, dtype=np.int64))).to(device)]

    def _agreed_validation(
        self,
        model: GraphSAGERec,
        adjacency: BipartiteAdjacency,
        features: torch.Tensor | None,
        user_items: sp.csr_matrix,
        validation: sp.csr_matrix,
    ) -> dict[str, float]:
        """Validation metrics every rank agrees on: computed once on rank 0 and broadcast, so all ranks take
        the same early-stopping decision (a rank that stopped alone would leave the others waiting)."""
        ranks = self.ranks
        if ranks is None:
            return self._validate(model, adjacency, features, user_items, validation)
        k = self.config.metric_k
        keys = [f"recall@{k}", f"ndcg@{k}"]
        mine = self._validate(model, adjacency, features, user_items, validation) if ranks.is_main else {}
        agreed = ranks.from_main([mine.get(key, 0.0) for key in keys])
        return dict(zip(keys, agreed, strict=True))

    def _validate(
        self,
        model: GraphSAGERec,
        adjacency: BipartiteAdjacency,
        features: torch.Tensor | None,
        user_items: sp.csr_matrix,
        validation: sp.csr_matrix,
    ) -> dict[str, float]:
        model.eval()
        u, i = model.get_embedding(adjacency.propagate, features)
        return validation_metrics(u, i, user_items, validation, self.config.metric_k)
