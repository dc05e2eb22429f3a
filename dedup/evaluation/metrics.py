"""Clustering quality against gold labels: B-cubed, pairwise, adjusted Rand, error lists.

Every function takes two equally long sequences of hashable labels, ``pred[i]`` and
``gold[i]`` being the predicted cluster and the gold event of item ``i``. Label values are
arbitrary: only which items share a label matters.

All scores are computed from the contingency table (how many items each pair of predicted
cluster and gold event share), which takes one pass over the items, so a million articles
are scored in a few seconds.

Example:
    >>> pred = [1, 1, 1, 1, 2, 2]
    >>> gold = ["a", "a", "a", "b", "b", "c"]
    >>> bcubed(pred, gold)
    PRF(precision=0.5833333333333334, recall=0.8333333333333334, f1=0.6862745098039216)
    >>> pairwise(pred, gold).precision  # 3 of the 7 predicted pairs are gold pairs
    0.42857142857142855
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sklearn.metrics import adjusted_rand_score

__all__ = [
    "PRF",
    "Contingency",
    "Merge",
    "Split",
    "adjusted_rand",
    "bcubed",
    "contingency",
    "pairwise",
    "score_clustering",
    "worst_merges",
    "worst_splits",
]


@dataclass(frozen=True, slots=True)
class PRF:
    """Precision, recall and their harmonic mean, each in [0, 1]."""

    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, precision: float, recall: float) -> PRF:
        """Build from precision and recall; F1 is 0 when both are 0."""
        total = precision + recall
        return cls(precision, recall, 2 * precision * recall / total if total else 0.0)


@dataclass(frozen=True, slots=True)
class Contingency:
    """Co-occurrence counts of predicted clusters and gold events.

    Attributes:
        cells: ``(pred label, gold label) -> number of items`` for the non-empty cells.
        pred_sizes: Predicted cluster -> its size.
        gold_sizes: Gold event -> its size.
        n_items: Number of items.
    """

    cells: dict[tuple[Hashable, Hashable], int]
    pred_sizes: dict[Hashable, int]
    gold_sizes: dict[Hashable, int]
    n_items: int


@dataclass(frozen=True, slots=True)
class Merge:
    """A predicted cluster that mixes several gold events.

    Attributes:
        cluster: The predicted cluster label.
        size: Its number of items.
        wrong_pairs: Pairs of its items that belong to different gold events.
        events: ``(gold event, number of its items in the cluster)``, largest first.
    """

    cluster: Hashable
    size: int
    wrong_pairs: int
    events: tuple[tuple[Hashable, int], ...]


@dataclass(frozen=True, slots=True)
class Split:
    """A gold event spread over several predicted clusters.

    Attributes:
        event: The gold event label.
        size: Its number of items.
        lost_pairs: Pairs of its items that were put in different clusters.
        clusters: ``(predicted cluster, number of the event's items in it)``, largest first.
    """

    event: Hashable
    size: int
    lost_pairs: int
    clusters: tuple[tuple[Hashable, int], ...]


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _ratio(numerator: float, denominator: float) -> float:
    # 0/0 arises when nothing was claimed (no predicted pairs) or nothing was to be found
    # (no gold pairs); nothing claimed is nothing wrong, so such a ratio counts as perfect.
    return numerator / denominator if denominator else 1.0


def _check_labels(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> None:
    if len(pred) != len(gold):
        raise ValueError(
            f"pred and gold must label the same items: got {len(pred)} predicted and {len(gold)} gold labels"
        )
    if len(pred) == 0:
        raise ValueError("pred and gold are empty: there is nothing to score")
    for name, labels in (("pred", pred), ("gold", gold)):
        for index, label in enumerate(labels):
            try:
                hash(label)
            except TypeError:
                kind = type(label).__name__
                message = f"{name}[{index}] is a {kind}, which cannot be a label; use str or int labels"
                raise ValueError(message) from None


def contingency(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> Contingency:
    """Count items per (predicted cluster, gold event) in one pass.

    Raises:
        ValueError: Different lengths, no items, or an unhashable label.
    """
    _check_labels(pred, gold)
    cells = Counter(zip(pred, gold, strict=True))
    return Contingency(
        cells=dict(cells),
        pred_sizes=dict(Counter(pred)),
        gold_sizes=dict(Counter(gold)),
        n_items=len(pred),
    )


def bcubed(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> PRF:
    """B-cubed precision, recall and F1 (Bagga & Baldwin 1998; Amigó et al. 2009).

    For each item, precision is the share of its predicted cluster that has its gold event,
    recall the share of its gold event that is in its predicted cluster; both are averaged
    over items. A cell of ``n`` items in a cluster of size ``c`` adds ``n * n / c`` to the
    precision sum.

    Args:
        pred: Predicted cluster of each item.
        gold: Gold event of each item.

    Returns:
        Item-averaged precision and recall, and their F1.

    Raises:
        ValueError: Different lengths, no items, or an unhashable label.
    """
    return _bcubed_of(contingency(pred, gold))


def _bcubed_of(table: Contingency) -> PRF:
    precision_sum = sum(n * n / table.pred_sizes[p] for (p, _), n in table.cells.items())
    recall_sum = sum(n * n / table.gold_sizes[g] for (_, g), n in table.cells.items())
    return PRF.of(precision_sum / table.n_items, recall_sum / table.n_items)


def pairwise(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> PRF:
    """Pairwise precision, recall and F1 over pairs of items put in one cluster.

    Precision is the share of predicted same-cluster pairs that are same-event pairs, recall
    the share of same-event pairs that are predicted. When there are no predicted pairs
    (all singletons) precision is 1.0; when there are no gold pairs recall is 1.0.

    Args:
        pred: Predicted cluster of each item.
        gold: Gold event of each item.

    Returns:
        Pairwise precision, recall and F1.

    Raises:
        ValueError: Different lengths, no items, or an unhashable label.
    """
    return _pairwise_of(contingency(pred, gold))


def _pairwise_of(table: Contingency) -> PRF:
    both = sum(_pairs(n) for n in table.cells.values())
    predicted = sum(_pairs(n) for n in table.pred_sizes.values())
    expected = sum(_pairs(n) for n in table.gold_sizes.values())
    return PRF.of(_ratio(both, predicted), _ratio(both, expected))


def adjusted_rand(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985), via scikit-learn.

    1.0 for identical partitions, about 0 for a random one, negative when worse than random.

    Raises:
        ValueError: Different lengths, no items, or an unhashable label.
    """
    _check_labels(pred, gold)
    return float(adjusted_rand_score(_codes(gold), _codes(pred)))


def _codes(labels: Sequence[Hashable]) -> list[int]:
    # scikit-learn sorts labels, which fails on mixed types (1 and "1"); integer codes do not.
    index: dict[Hashable, int] = {}
    return [index.setdefault(label, len(index)) for label in labels]


def score_clustering(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> dict[str, Any]:
    """All scores of a clustering in one flat, JSON-friendly dict.

    Returns:
        ``n_items``, ``n_pred_clusters``, ``n_gold_clusters``, ``bcubed_precision``,
        ``bcubed_recall``, ``bcubed_f1``, ``pairwise_precision``, ``pairwise_recall``,
        ``pairwise_f1`` and ``adjusted_rand``.

    Raises:
        ValueError: Different lengths, no items, or an unhashable label.
    """
    table = contingency(pred, gold)
    scores: dict[str, Any] = {
        "n_items": table.n_items,
        "n_pred_clusters": len(table.pred_sizes),
        "n_gold_clusters": len(table.gold_sizes),
    }
    for name, prf in (("bcubed", _bcubed_of(table)), ("pairwise", _pairwise_of(table))):
        scores.update(
            {f"{name}_precision": prf.precision, f"{name}_recall": prf.recall, f"{name}_f1": prf.f1}
        )
    scores["adjusted_rand"] = adjusted_rand(pred, gold)
    return scores


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative int (how many to list), got {k!r}")


def _largest_first(parts: dict[Hashable, int]) -> tuple[tuple[Hashable, int], ...]:
    return tuple(sorted(parts.items(), key=lambda item: (-item[1], str(item[0]))))


def worst_merges(pred: Sequence[Hashable], gold: Sequence[Hashable], k: int = 10) -> list[Merge]:
    """Predicted clusters that mix gold events, most wrong pairs first.

    Args:
        pred: Predicted cluster of each item.
        gold: Gold event of each item.
        k: How many to return at most.

    Returns:
        Up to ``k`` merges, by wrong pairs, then size (both descending), then label text.

    Raises:
        ValueError: Different lengths, no items, an unhashable label, or a bad ``k``.

    Example:
        >>> worst_merges([1, 1, 1, 2], ["a", "a", "b", "b"])
        [Merge(cluster=1, size=3, wrong_pairs=2, events=(('a', 2), ('b', 1)))]
    """
    _check_k(k)
    table = contingency(pred, gold)
    events_of: defaultdict[Hashable, dict[Hashable, int]] = defaultdict(dict)
    for (p, g), n in table.cells.items():
        events_of[p][g] = n
    merges = [
        Merge(
            cluster=p,
            size=table.pred_sizes[p],
            wrong_pairs=_pairs(table.pred_sizes[p]) - sum(_pairs(n) for n in events.values()),
            events=_largest_first(events),
        )
        for p, events in events_of.items()
        if len(events) > 1
    ]
    merges.sort(key=lambda m: (-m.wrong_pairs, -m.size, str(m.cluster)))
    return merges[:k]


def worst_splits(pred: Sequence[Hashable], gold: Sequence[Hashable], k: int = 10) -> list[Split]:
    """Gold events spread over several predicted clusters, most lost pairs first.

    Args:
        pred: Predicted cluster of each item.
        gold: Gold event of each item.
        k: How many to return at most.

    Returns:
        Up to ``k`` splits, by lost pairs, then size (both descending), then label text.

    Raises:
        ValueError: Different lengths, no items, an unhashable label, or a bad ``k``.

    Example:
        >>> worst_splits([1, 1, 2, 3], ["a", "a", "a", "b"])
        [Split(event='a', size=3, lost_pairs=2, clusters=((1, 2), (2, 1)))]
    """
    _check_k(k)
    table = contingency(pred, gold)
    clusters_of: defaultdict[Hashable, dict[Hashable, int]] = defaultdict(dict)
    for (p, g), n in table.cells.items():
        clusters_of[g][p] = n
    splits = [
        Split(
            event=g,
            size=table.gold_sizes[g],
            lost_pairs=_pairs(table.gold_sizes[g]) - sum(_pairs(n) for n in clusters.values()),
            clusters=_largest_first(clusters),
        )
        for g, clusters in clusters_of.items()
        if len(clusters) > 1
    ]
    splits.sort(key=lambda s: (-s.lost_pairs, -s.size, str(s.event)))
    return splits[:k]
