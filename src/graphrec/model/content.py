"""Item content features: a fitted text vectoriser over titles plus the category multi-hot.

What an item *is*, as opposed to who touched it: the title's words (TF-IDF over word 1..``ngrams``-grams,
sublinear term frequency, reduced to ``text_dim`` dimensions by a truncated SVD) beside the item's
categories (multi-hot, each row summing to 1). The row ``[categories | text]`` is GraphSAGE's item input
feature (``GraphSAGERec.feature_proj``) and what :mod:`graphrec.model.content_map` maps onto the
embedding space for an item that arrived after training.

Why these choices: scikit-learn fits it in well under a second on ML-100K's 1,682 titles and in a few
seconds on 41k, nothing is downloaded at run time (a pretrained sentence model would be), and the
fitted state is plain data: the vocabulary and category names in ``content.json``, the idf weights and
the SVD basis in ``content.npz`` (loaded with ``allow_pickle=False``), so loading a version never runs
code and the transform is rebuilt from those arrays by :class:`~sklearn.feature_extraction.text.CountVectorizer`
with a fixed vocabulary (no fitted estimator is pickled). The vectoriser is fitted at training time on
the training snapshot's catalogue only: a model version never sees a held-out item's words.

A snapshot without titles gives exactly the category block (the features GraphSAGE had before titles
were exported), and one with neither titles nor categories gives no features at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

from graphrec.model.config import ContentConfig
from graphrec.snapshot import Snapshot

CONTENT_JSON = "content.json"
CONTENT_ARRAYS = "content.npz"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # words of two or more letters or digits ("1995" counts: era is signal)
FORMAT = 1


def _counter(terms: Sequence[str] | None, ngrams: int, cfg: ContentConfig | None = None) -> CountVectorizer:
    """The one tokeniser: fitting (``terms`` None, bounded by ``cfg``) and transforming (fixed ``terms``)."""
    if terms is not None:
        return CountVectorizer(
            vocabulary=list(terms), ngram_range=(1, ngrams), lowercase=True, token_pattern=TOKEN_PATTERN
        )
    assert cfg is not None
    return CountVectorizer(
        ngram_range=(1, ngrams),
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        min_df=cfg.min_df,
        max_features=cfg.max_terms,
        dtype=np.float32,
    )


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear TF (``1 + log tf``) times idf, rows scaled to unit length (a title with no known word: 0)."""
    tf = sp.csr_matrix(counts, dtype=np.float32, copy=True)
    tf.data = 1.0 + np.log(tf.data)
    weighted = sp.csr_matrix(tf.multiply(idf[None, :]))
    out: sp.csr_matrix = normalize(weighted, norm="l2", copy=False)
    return out


@dataclass(frozen=True, eq=False)
class ContentEncoder:
    """A fitted content featuriser (see the module docstring); ``features`` rows are ``[categories | text]``.

    Attributes:
        category_names: the category columns, as the training snapshot named them.
        terms: the text vocabulary in column order (empty: no text block).
        idf: each term's inverse document frequency over the training catalogue's titles.
        components: ``(text_dim, n_terms)`` SVD basis the TF-IDF rows are projected on.
        ngrams: word n-grams up to this length.
    """

    category_names: np.ndarray
    terms: tuple[str, ...]
    idf: np.ndarray
    components: np.ndarray
    ngrams: int

    @property
    def text_dim(self) -> int:
        return int(self.components.shape[0])

    @property
    def n_features(self) -> int:
        return len(self.category_names) + self.text_dim

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, snapshot: Snapshot, cfg: ContentConfig, *, seed: int = 0) -> ContentEncoder | None:
        """Fit on the snapshot's catalogue; None when it has neither categories nor (usable) titles."""
        terms: tuple[str, ...] = ()
        idf = np.zeros(0, np.float32)
        components = np.zeros((0, 0), np.float32)
        titles = snapshot.titles[snapshot.titles != ""]
        if cfg.text and len(titles) >= 2:
            counter = _counter(None, cfg.ngrams, cfg)
            try:
                counts = sp.csr_matrix(counter.fit_transform(titles.tolist()))
            except ValueError:  # no title holds a single word (digits and letters of two or more)
                counts = None
            if counts is not None and counts.shape[1] > 0:
                terms = tuple(counter.get_feature_names_out().tolist())
                df = np.bincount(counts.indices, minlength=counts.shape[1])
                idf = (np.log((1.0 + len(titles)) / (1.0 + df)) + 1.0).astype(np.float32)
                components = cls._basis(_tfidf(counts, idf), cfg.text_dim, seed)
        if not terms and snapshot.n_categories == 0:
            return None
        return cls(snapshot.category_names.copy(), terms, idf, components, cfg.ngrams)

    @staticmethod
    def _basis(tfidf: sp.csr_matrix, text_dim: int, seed: int) -> np.ndarray:
        """``(k, n_terms)`` orthonormal rows: the top ``k <= text_dim`` right singular vectors, or the
        identity when the vocabulary is no wider than ``text_dim`` (nothing to reduce)."""
        n_docs, n_terms = tfidf.shape
        if n_terms <= text_dim:
            return np.eye(n_terms, dtype=np.float32)
        k = min(text_dim, n_docs)
        svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=5, random_state=seed)
        svd.fit(tfidf)
        basis: np.ndarray = svd.components_.astype(np.float32)
        return basis

    # ------------------------------------------------------------------ transforming
    def tfidf(self, titles: Sequence[str]) -> sp.csr_matrix:
        """Unit-length TF-IDF rows of ``titles`` over the fitted vocabulary (words it never saw are dropped)."""
        if not self.terms or not len(titles):
            return sp.csr_matrix((len(titles), len(self.terms)), dtype=np.float32)
        counts = sp.csr_matrix(_counter(self.terms, self.ngrams).transform(list(titles)))
        return _tfidf(counts, self.idf)

    def text_features(self, titles: Sequence[str]) -> np.ndarray:
        """``(len(titles), text_dim)``: the TF-IDF rows projected on the SVD basis."""
        if not self.terms:
            return np.zeros((len(titles), 0), np.float32)
        projected: np.ndarray = np.asarray(self.tfidf(titles) @ self.components.T, dtype=np.float32)
        return projected

    def category_matrix(self, categories: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Multi-hot ``(n, n_categories)`` of category name lists; names the model never saw are dropped.
        Vectorised: one flatten and one sorted search over all the names."""
        lists = pa.array([list(c) for c in categories], type=pa.list_(pa.string()))
        lengths = np.asarray(pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False), np.int64)
        flat = np.asarray(pc.list_flatten(lists).to_numpy(zero_copy_only=False)).astype(str)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        names = self.category_names
        cols = np.minimum(np.searchsorted(names, flat), max(len(names) - 1, 0))
        known = (cols < len(names)) & (names[cols] == flat) if len(names) else np.zeros(len(flat), bool)
        m = sp.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (rows[known], cols[known])), shape=(len(lengths), len(names))
        )
        m.data[:] = 1.0  # a name given twice counts once
        return m

    def _assemble(self, categories: sp.csr_matrix, text: np.ndarray) -> np.ndarray:
        dense = np.asarray(categories.toarray(), dtype=np.float32)
        dense /= np.maximum(dense.sum(1, keepdims=True), 1.0)
        return np.hstack([dense, text]).astype(np.float32, copy=False)

    def features(self, titles: Sequence[str], categories: Sequence[Sequence[str]]) -> np.ndarray:
        """``(n, n_features)`` rows ``[categories | text]`` of items described by title and category names."""
        return self._assemble(self.category_matrix(categories), self.text_features(titles))

    def snapshot_features(self, snapshot: Snapshot) -> np.ndarray:
        """Every snapshot item's feature row (its categories are the encoder's: the one it was fitted on,
        or a split of it)."""
        if not np.array_equal(snapshot.category_names, self.category_names):
            raise ValueError("the snapshot's categories are not the ones this content encoder was fitted with")
        return self._assemble(snapshot.item_category_matrix(), self.text_features(snapshot.titles.tolist()))

    # ------------------------------------------------------------------ files
    def save(self, directory: Path, arrays: dict[str, np.ndarray] | None = None) -> None:
        """``content.json`` (vocabulary, category names, settings) and ``content.npz`` (idf, SVD basis and
        the caller's ``arrays``, e.g. the content map)."""
        meta = {
            "format": FORMAT,
            "token_pattern": TOKEN_PATTERN,
            "lowercase": True,
            "ngrams": self.ngrams,
            "category_names": self.category_names.tolist(),
            "terms": list(self.terms),
        }
        (directory / CONTENT_JSON).write_text(json.dumps(meta, ensure_ascii=False))
        named = {"idf": self.idf, "components": self.components, **(arrays or {})}
        np.savez(directory / CONTENT_ARRAYS, allow_pickle=False, **named)  # plain arrays, no object pickled

    @classmethod
    def load(cls, directory: Path) -> tuple[ContentEncoder, dict[str, np.ndarray]] | None:
        """The encoder and the other arrays saved beside it; None for a version trained without content."""
        if not (directory / CONTENT_JSON).is_file():
            return None
        meta = json.loads((directory / CONTENT_JSON).read_text())
        if meta.get("format") != FORMAT or meta.get("token_pattern") != TOKEN_PATTERN:
            raise ValueError(f"{directory / CONTENT_JSON}: written by another content format, retrain the version")
        with np.load(directory / CONTENT_ARRAYS, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        encoder = cls(
            category_names=np.asarray(meta["category_names"], dtype=str),
            terms=tuple(meta["terms"]),
            idf=arrays.pop("idf").astype(np.float32),
            components=arrays.pop("components").astype(np.float32),
            ngrams=int(meta["ngrams"]),
        )
        return encoder, arrays
