"""The floor to beat: plain TF-IDF with cosine average-linkage clustering.

Every article is a TF-IDF vector of its words (English stop words removed, sublinear term
frequency, IDF over the batch being clustered); articles are merged bottom-up by the mean
cosine similarity between clusters (average linkage) until no two clusters reach
``threshold``. There is no entity, headline or time feature: this is what the event
clustering of :mod:`dedup.cluster` has to leave behind.

The full pairwise distance matrix is built, so memory grows with the square of the number of
articles: fine for benchmarks of a few thousand articles, not for a production batch.

Example:
    >>> texts = [
    ...     "Storm floods the valley; roads closed after heavy rain.",
    ...     "Heavy rain floods valley roads, storm closes schools.",
    ...     "Central bank raises interest rates by half a point.",
    ... ]
    >>> baseline_cluster(texts, threshold=0.1).tolist()
    [0, 0, 1]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import TfidfVectorizer

from dedup.evaluation.metrics import bcubed

__all__ = ["BASELINE_THRESHOLD", "DEFAULT_GRID", "baseline_cluster", "choose_baseline_threshold", "threshold_curve"]

BASELINE_THRESHOLD: float = 0.15
"""Cosine threshold of the baseline, chosen on ``ecbplus-train`` (B-cubed F1 there 0.888; on
``ecbplus-dev`` it gives 0.874, while the best threshold for dev, 0.20, gives 0.899).

Re-derive it with::

    from dedup.evaluation.baseline import choose_baseline_threshold
    from dedup.evaluation.ecbplus import load_benchmark
    train = load_benchmark("ecbplus-train")
    choose_baseline_threshold([a.text for a in train], [a.event for a in train])
"""

DEFAULT_GRID: tuple[float, ...] = tuple(round(0.01 * k, 2) for k in range(1, 100))
"""Thresholds tried by :func:`choose_baseline_threshold`: 0.01, 0.02, ..., 0.99."""


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold is a cosine similarity and must be in (0, 1), got {threshold!r}")


def _average_linkage(texts: Sequence[str]) -> np.ndarray | None:
    """Linkage matrix of the texts, or None when there is at most one text."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of texts, got a single str; pass [text]")
    if len(texts) == 0:
        raise ValueError("texts is empty: there is nothing to cluster")
    if len(texts) == 1:
        return None
    try:
        vectors = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    except ValueError:
        # Only stop words (or no words at all) in the whole batch: no two texts are similar.
        return linkage(squareform(np.ones((len(texts), len(texts))) - np.eye(len(texts))), method="average")
    # Rows are L2-normalised, so the product is the cosine; an empty row has similarity 0.
    similarity = (vectors @ vectors.T).toarray()
    distance = np.clip(1.0 - similarity, 0.0, 1.0)
    np.fill_diagonal(distance, 0.0)
    distance = (distance + distance.T) / 2  # exact symmetry, float rounding aside
    return linkage(squareform(distance, checks=False), method="average")


def _cut(tree: np.ndarray | None, n: int, threshold: float) -> np.ndarray:
    if tree is None:
        return np.zeros(n, dtype=np.int64)
    raw = fcluster(tree, t=1.0 - threshold, criterion="distance")
    # Number clusters by first appearance, so labels do not depend on scipy's numbering.
    first: dict[int, int] = {}
    return np.array([first.setdefault(int(label), len(first)) for label in raw], dtype=np.int64)


def baseline_cluster(texts: Sequence[str], threshold: float = BASELINE_THRESHOLD) -> np.ndarray:
    """Cluster texts with TF-IDF and cosine average linkage.

    Two clusters are merged while the mean cosine similarity between their members is at
    least ``threshold``.

    Args:
        texts: The articles' texts.
        threshold: Minimum mean cosine similarity for a merge, in (0, 1).

    Returns:
        ``int64`` array of shape ``(len(texts),)``: the cluster of each text, numbered from 0
        in order of first appearance.

    Raises:
        ValueError: No texts, or ``threshold`` outside (0, 1).
    """
    _check_threshold(threshold)
    return _cut(_average_linkage(texts), len(texts), threshold)


def threshold_curve(
    texts: Sequence[str], gold: Sequence[Hashable], grid: Sequence[float] = DEFAULT_GRID
) -> list[tuple[float, float]]:
    """B-cubed F1 of the baseline at every threshold of ``grid`` (the tree is built once).

    Returns:
        ``(threshold, bcubed F1)`` in grid order.

    Raises:
        ValueError: No texts, ``gold`` of another length, an empty grid or a threshold
            outside (0, 1).
    """
    if len(gold) != len(texts):
        raise ValueError(f"texts and gold must be equally long, got {len(texts)} texts and {len(gold)} labels")
    if len(grid) == 0:
        raise ValueError("grid is empty; pass thresholds such as DEFAULT_GRID")
    for threshold in grid:
        _check_threshold(threshold)
    tree = _average_linkage(texts)
    return [(float(t), bcubed(_cut(tree, len(texts), t).tolist(), list(gold)).f1) for t in grid]


def choose_baseline_threshold(
    texts: Sequence[str], gold: Sequence[Hashable], grid: Sequence[float] = DEFAULT_GRID
) -> float:
    """The threshold of ``grid`` with the best B-cubed F1 against ``gold`` (the smallest on ties).

    Choose it on training data only; scoring with a threshold chosen on the same articles
    overstates the baseline.

    Raises:
        ValueError: As :func:`threshold_curve`.
    """
    curve = threshold_curve(texts, gold, grid)
    best = max(f1 for _, f1 in curve)
    return min(t for t, f1 in curve if f1 == best)
