"""A trained model version on disk, and inductive inference for users/items unseen at training time.

A version directory holds everything serving needs, with no pickled objects except the torch
state dict (loaded with ``weights_only=True``):

``config.json`` (``TrainConfig``), ``weights.pt``, ``user_ids.npy``/``item_ids.npy`` (id maps),
``user_embeddings.npy``/``item_embeddings.npy`` (final), ``user_layers.npy``/``item_layers.npy``
(``h^0..h^L`` of every node, what a new neighbourhood is aggregated from), degrees, item
features, ``index/`` (ANN over item embeddings), ``metrics.json`` and ``manifest.json``
(version, snapshot content hash, history), and for a version trained with content features the
cold-item path: ``content.json`` (the text vectoriser's vocabulary, the category names) and
``content.npz`` (idf, SVD basis, the content map's weights; :mod:`graphrec.model.content_map`). A
version without them (trained before content features, or on a catalogue with no titles or
categories) loads and serves as before; it just cannot place items it never saw.
"""

from __future__ import annotations

import json
import pickle
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.nn import SAGEConv

from graphrec import clock
from graphrec.index import ItemIndex
from graphrec.model.adjacency import neighbourhood_coefficients
from graphrec.model.config import TrainConfig
from graphrec.model.content import CONTENT_JSON
from graphrec.model.content_map import ContentEmbedder, ContentMap
from graphrec.model.graphsage import GraphSAGERec
from graphrec.model.trainer import TrainResult
from graphrec.snapshot import Snapshot


def _transposed(linear: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """A linear map's ``(W^T, b)`` as float32 numpy, a zero ``b`` when it has no bias, for row vectors."""
    weight: torch.Tensor = linear.weight  # type: ignore[assignment]  # a Linear's parameter
    bias: torch.Tensor | None = linear.bias  # type: ignore[assignment]
    w = weight.detach().numpy().T.astype(np.float32, copy=True)
    b = np.zeros(w.shape[1], np.float32) if bias is None else bias.detach().numpy().astype(np.float32, copy=True)
    return w, b


@dataclass(eq=False)
class ModelArtifact:
    """A published-or-publishable model version (see module docstring for the files)."""

    version: str
    config: TrainConfig
    model: GraphSAGERec
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    user_layers: np.ndarray
    item_layers: np.ndarray
    user_degree: np.ndarray
    item_degree: np.ndarray
    item_features: np.ndarray | None
    index: ItemIndex
    metrics: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    content: ContentEmbedder | None = None  # the cold-item path (None: a version without content features)
    _user_lookup: dict[str, int] | None = field(default=None, repr=False)
    _item_lookup: dict[str, int] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_training(
        cls,
        result: TrainResult,
        snapshot: Snapshot,
        *,
        version: str,
        config: TrainConfig,
        metrics: dict[str, Any] | None = None,
    ) -> ModelArtifact:
        """Freeze a training result: run the full forward once and keep every layer's output."""
        model = result.model.eval()
        with torch.no_grad():
            layers = model.layer_outputs(result.adjacency.propagate, result.item_features)
            final = model.combine(layers)
        stacked = torch.stack(layers).numpy()
        n_users = snapshot.n_users
        item_emb = final[n_users:].numpy().copy()
        content = None
        if result.content is not None and result.item_features is not None:
            content = ContentEmbedder(result.content, ContentMap.fit(result.item_features.numpy(), item_emb))
        return cls(
            version=version,
            config=config,
            model=model,
            user_ids=snapshot.user_ids,
            item_ids=snapshot.item_ids,
            user_embeddings=final[:n_users].numpy().copy(),
            item_embeddings=item_emb,
            user_layers=stacked[:, :n_users].copy(),
            item_layers=stacked[:, n_users:].copy(),
            user_degree=result.adjacency.user_degree.copy(),
            item_degree=result.adjacency.item_degree.copy(),
            item_features=None if result.item_features is None else result.item_features.numpy().copy(),
            index=ItemIndex.build(item_emb, metric="ip", seed=config.seed),
            metrics=dict(metrics or {}),
            manifest={
                "version": version,
                "created_ms": clock.now_ms(),
                "snapshot_hash": snapshot.manifest.get("content_hash"),
                "snapshot": snapshot.manifest,
                "best_epoch": result.best_epoch,
                "seconds": result.seconds,
                "mode": result.mode,
                "history": result.history,
            },
            content=content,
        )

    # ------------------------------------------------------------------ lookups
    def user_index(self, user_id: str) -> int | None:
        """The user's row, or None for a user the version does not know or has forgotten.

        Why the second look at ``user_ids``: a loaded version maps ``user_ids.npy`` (shared pages), and
        erasure blanks the id in that file in place (:mod:`graphrec.model.erasure`), so every process
        serving the version stops finding the user at that instant, without a reload."""
        if self._user_lookup is None:
            self._user_lookup = {u: i for i, u in enumerate(self.user_ids.tolist()) if u}
        index = self._user_lookup.get(user_id)
        return index if index is not None and self.user_ids[index] == user_id else None

    def item_index(self, item_id: str) -> int | None:
        if self._item_lookup is None:
            self._item_lookup = {u: i for i, u in enumerate(self.item_ids.tolist())}
        return self._item_lookup.get(item_id)

    # ------------------------------------------------------------------ inductive inference
    @cached_property
    def _layer_maps(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None:
        """Each layer's ``lin_l`` and ``lin_r`` as float32 numpy ``(W^T, b)`` pairs (``None``: parameter-free
        propagation). Why numpy: inductive inference is a few products of one row with ``dim x dim``
        matrices, and torch's per-operation overhead was a sixth of a new user's recommendation."""
        if not self.config.encoder.linear:
            return None
        maps = []
        for conv in self.model.convs:
            assert isinstance(conv, SAGEConv)  # what GraphSAGERec builds when linear
            maps.append((*_transposed(conv.lin_l), *_transposed(conv.lin_r)))
        return maps

    def _infer(
        self, own0: np.ndarray, neighbours: np.ndarray, coefficients: np.ndarray, neighbour_layers: np.ndarray
    ) -> np.ndarray:
        """One node's layers from its own layer 0 and its neighbours' training layers: the model's
        ``GraphSAGERec.layer_step`` and ``combine`` for one row, in numpy (``tests/model/test_inference``
        holds it equal to the full forward pass for every encoder variant)."""
        enc = self.config.encoder
        maps = self._layer_maps
        h = np.asarray(own0, dtype=np.float32)
        coef = np.asarray(coefficients, dtype=np.float32)
        outs = [h]
        for layer in range(enc.layers):
            agg = coef @ neighbour_layers[layer][neighbours]
            if maps is not None:
                w_l, b_l, w_r, b_r = maps[layer]
                out = agg + (agg @ w_l + b_l) + (h @ w_r + b_r)
            else:
                out = agg
            if enc.activation == "tanh":
                out = np.tanh(out)
            elif enc.activation == "relu":
                out = np.maximum(out, 0.0)
            h = out.astype(np.float32, copy=False)
            outs.append(h)
        total: np.ndarray = outs[-1]
        if enc.combine != "last":
            total = np.sum(outs, axis=0) / len(outs)
        if enc.normalize:  # GraphSAGERec.combine's unit length (F.normalize's floor on the norm)
            total = (total / max(float(np.linalg.norm(total)), 1e-12)).astype(np.float32)
        return np.asarray(total, dtype=np.float32)

    def infer_user(
        self,
        item_indices: np.ndarray,
        weights: np.ndarray,
        *,
        user_index: int | None = None,
    ) -> np.ndarray:
        """Embedding of a user from their current (item index, decayed weight) list.

        A known user (``user_index``) keeps their id embedding as layer 0; a user who arrived after
        training starts from zeros (what ``user_id_dropout`` trains for) and is described by their
        items alone. Items keep their training representations and degrees. With the training
        neighbourhood this equals the full forward pass.
        """
        items = np.asarray(item_indices, dtype=np.int64)
        own = self.user_layers[0][user_index] if user_index is not None else np.zeros(self.config.encoder.dim)
        coef = neighbourhood_coefficients(self.config.encoder.aggr, weights, self.item_degree[items])
        return self._infer(own, items, coef, self.item_layers)

    def infer_user_from_ids(
        self,
        item_ids: list[str],
        weights: np.ndarray,
        *,
        user_id: str | None = None,
    ) -> np.ndarray | None:
        """``infer_user`` by external ids; items unknown to this version are skipped (``None`` if all are).

        ``weights`` must be decayed like the training snapshot's (``graphrec.clock.decay_weights``).
        """
        idx = np.array([self.item_index(i) if self.item_index(i) is not None else -1 for i in item_ids], dtype=np.int64)
        known = idx >= 0
        if not known.any():
            return None
        user_index = self.user_index(user_id) if user_id is not None else None
        return self.infer_user(idx[known], np.asarray(weights)[known], user_index=user_index)

    def infer_item(
        self,
        user_indices: np.ndarray,
        weights: np.ndarray,
        *,
        item_index: int | None = None,
        features: np.ndarray | None = None,
    ) -> np.ndarray:
        """Embedding of an item from its (user index, weight) list; a new item starts from its features."""
        users = np.asarray(user_indices, dtype=np.int64)
        if item_index is not None:
            own = self.item_layers[0][item_index]
        else:
            own = np.zeros(self.config.encoder.dim, dtype=np.float32)
            if features is not None and self.model.feature_proj is not None:
                with torch.no_grad():
                    own = self.model.feature_proj(torch.from_numpy(features.astype(np.float32))).numpy()
        coef = neighbourhood_coefficients(self.config.encoder.aggr, weights, self.user_degree[users])
        return self._infer(own, users, coef, self.user_layers)

    def embed_content(self, titles: Sequence[str], categories: Sequence[Sequence[str]]) -> np.ndarray | None:
        """``(n, dim)`` embeddings of items this version never saw, from their titles and categories alone
        (the content map, :mod:`graphrec.model.content_map`; vectorised over the batch); None for a
        version without content features."""
        if self.content is None:
            return None
        return self.content.embed(titles, categories)

    def similar_to(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(item_ids, cosines)`` of the ``k`` trained items nearest ``vector`` (an item the version does
        not know: the same cosine search as :meth:`similar`)."""
        idx, scores = self.cosine_index.search(np.asarray(vector, np.float32)[None, :], k)
        keep = idx[0] >= 0
        return self.item_ids[idx[0][keep]], scores[0][keep].astype(np.float64)

    def recommend(
        self,
        user_vector: np.ndarray,
        k: int,
        *,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(item_ids, scores)`` of the top ``k`` items for a user embedding, via the ANN index."""
        idx, scores = self.index.search(
            user_vector[None, :], k, exclude=None if exclude is None else [np.asarray(exclude)]
        )
        keep = idx[0] >= 0
        return self.item_ids[idx[0][keep]], scores[0][keep]

    @cached_property
    def popularity_order(self) -> np.ndarray:
        """Item indices by training degree (the weighted degree the encoder normalised by), largest
        first, ties by index (id order); sorted once, on first use."""
        return np.lexsort((np.arange(len(self.item_degree)), -self.item_degree))

    def popular(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(item_ids, degrees)`` of the ``k`` most popular items of this version's training graph.

        The popularity prior of a new user's blend (:func:`graphrec.scoring.blend.blend`): the
        version's own, so the prior the blend weights were tuned with is the one served.
        """
        top = self.popularity_order[:k]
        return self.item_ids[top], self.item_degree[top].astype(np.float64)

    @cached_property
    def cosine_index(self) -> ItemIndex:
        """Exact cosine search over the item vectors (built once, on first use: one normalised copy)."""
        return ItemIndex.build(self.item_embeddings, metric="cosine", exact_below=sys.maxsize)

    def similar(self, item_index: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(item_ids, cosines)`` of the ``k`` items nearest ``item_index``, itself left out.

        Why cosine, when recommendations rank users' items by inner product: item-to-item similarity
        is what analysts check in Neo4j Browser through the ``item_embedding`` vector index, which is
        cosine; one function on both sides means 04-similar-items and ``/similar`` agree.
        """
        idx, scores = self.cosine_index.search(
            self.item_embeddings[item_index][None, :], k, exclude=[np.array([item_index])]
        )
        keep = idx[0] >= 0
        return self.item_ids[idx[0][keep]], scores[0][keep].astype(np.float64)

    # ------------------------------------------------------------------ files
    def save(self, directory: str | Path) -> Path:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(self.config.model_dump_json(indent=2))
        torch.save(self.model.state_dict(), out / "weights.pt")
        arrays = {
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "user_embeddings": self.user_embeddings,
            "item_embeddings": self.item_embeddings,
            "user_layers": self.user_layers,
            "item_layers": self.item_layers,
            "user_degree": self.user_degree,
            "item_degree": self.item_degree,
        }
        if self.item_features is not None:
            arrays["item_features"] = self.item_features
        for name, arr in arrays.items():
            np.save(out / f"{name}.npy", arr, allow_pickle=False)
        self.index.save(out / "index")
        if self.content is not None:
            self.content.save(out)
        (out / "metrics.json").write_text(json.dumps(self.metrics, indent=2, default=float))
        (out / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=str))
        return out

    @classmethod
    def load(cls, directory: str | Path) -> ModelArtifact:
        """Read a version directory. A missing or damaged file is an
        :class:`~graphrec.data.errors.InputError` naming it (:func:`damaged_file` finds which): versions
        are copied between machines by hand, and a truncated copy must say which file to replace, not
        fail deep in numpy or torch. (The API's hot swap catches any failure and keeps serving.)"""
        from graphrec.data.errors import InputError

        src = Path(directory)
        if not (src / "manifest.json").is_file():
            raise InputError(src, None, "not a model version (no manifest.json; graphrec train writes them)")
        try:
            return cls._read(src)
        except FileNotFoundError as exc:
            missing = Path(exc.filename) if exc.filename else src
            raise InputError(missing, None, "missing: the model version is incomplete (train it again)") from None
        except UNREADABLE as exc:
            path, reason = damaged_file(src) or (src, f"{type(exc).__name__}: {str(exc).strip()[:120]}")
            raise InputError(path, None, f"damaged ({reason}): train the version again") from None

    @classmethod
    def _read(cls, src: Path) -> ModelArtifact:
        config = TrainConfig.model_validate_json((src / "config.json").read_text())

        def arr(name: str) -> np.ndarray:
            loaded: np.ndarray = np.load(src / f"{name}.npy", allow_pickle=False)  # a .npy file: one array
            return loaded

        features = arr("item_features") if (src / "item_features.npy").exists() else None
        # mapped, not read: an erasure's in-place blanking is seen at once (see user_index)
        user_ids, item_ids = np.load(src / "user_ids.npy", mmap_mode="r", allow_pickle=False), arr("item_ids")
        model = GraphSAGERec(len(user_ids), len(item_ids), 0 if features is None else features.shape[1], config.encoder)
        model.load_state_dict(torch.load(src / "weights.pt", weights_only=True))
        model.eval()
        manifest = json.loads((src / "manifest.json").read_text())
        return cls(
            version=str(manifest.get("version", src.name)),
            config=config,
            model=model,
            user_ids=user_ids,
            item_ids=item_ids,
            user_embeddings=arr("user_embeddings"),
            item_embeddings=arr("item_embeddings"),
            user_layers=arr("user_layers"),
            item_layers=arr("item_layers"),
            user_degree=arr("user_degree"),
            item_degree=arr("item_degree"),
            item_features=features,
            index=ItemIndex.load(src / "index"),
            metrics=json.loads((src / "metrics.json").read_text()),
            manifest=manifest,
            content=ContentEmbedder.load(src),
        )


UNREADABLE = (OSError, ValueError, EOFError, RuntimeError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile)
"""What reading a damaged file raises: numpy (ValueError, EOFError), json, torch (UnpicklingError,
RuntimeError, BadZipFile), pydantic (a ValueError)."""
KINDS = {".json": "JSON", ".npy": "a NumPy array", ".pt": "torch weights", ".npz": "NumPy arrays"}


def unreadable(path: Path, exc: BaseException) -> str:
    """A short reason for a file that did not read back: what it should have been and the error's type
    (numpy's and torch's own messages run to several sentences about pickles)."""
    return f"not readable as {KINDS.get(path.suffix, 'its format')}: {type(exc).__name__}"


def damaged_file(directory: Path) -> tuple[Path, str] | None:
    """``(file, reason)`` of the first file of a version directory that does not read back (its JSON
    files, its arrays, its weights), or ``None``: what :meth:`ModelArtifact.load` names when it fails."""
    for name in ("manifest.json", "config.json", "metrics.json", CONTENT_JSON):
        path = directory / name
        if name == CONTENT_JSON and not path.exists():  # a version from before content features
            continue
        try:
            json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            return path, unreadable(path, exc)
    for path in sorted(directory.glob("*.npy")):
        try:
            np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            return path, unreadable(path, exc)
    for path in sorted(directory.glob("*.npz")):
        try:
            with np.load(path, allow_pickle=False) as arrays:
                for key in arrays.files:
                    arrays[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            return path, unreadable(path, exc)
    weights = directory / "weights.pt"
    try:
        torch.load(weights, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        return weights, unreadable(weights, exc)
    return None
