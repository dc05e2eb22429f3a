"""Duplicate detection: exact content hashes, then MinHash LSH candidates verified exactly.

Stages, each a function: :func:`band_candidates` (LSH banding by sort and group, no
per-document Python loop), :func:`verify_pairs` (exact shingle Jaccard and containment
decide; LSH only proposes), :func:`group_duplicates` (connected components, a stable
canonical article per group: earliest published, then smallest id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "DuplicateGroups",
    "band_candidates",
    "group_duplicates",
    "shingle_sets",
    "verify_pairs",
]

_BAND_MULTIPLIER = np.uint64(0xFF51AFD7ED558CCD)
_FULL_PAIRS_BUCKET = 64  # larger buckets are chained instead of fully paired (they are mostly noise)


def band_candidates(signatures: np.ndarray, bands: int, rows: int, eligible: np.ndarray | None = None) -> np.ndarray:
    """Candidate pairs ``(i, j)``, ``i < j``, that share at least one LSH band.

    Args:
        signatures: ``(n, num_perm)`` uint32 MinHash signatures, ``num_perm >= bands * rows``.
        bands: number of bands; rows: signature positions per band.
        eligible: optional boolean mask of documents that take part.

    Returns:
        ``int64`` array of shape ``(m, 2)``, sorted and unique.
    """
    n, num_perm = signatures.shape
    if bands * rows > num_perm:
        raise ValueError(f"bands * rows = {bands * rows} exceeds the signature length {num_perm}")
    index = np.arange(n, dtype=np.int64) if eligible is None else np.flatnonzero(eligible)
    pairs: list[np.ndarray] = []
    sig = signatures[index].astype(np.uint64)
    for band in range(bands):
        key = np.full(len(index), band, dtype=np.uint64)
        for r in range(band * rows, (band + 1) * rows):
            key = key * _BAND_MULTIPLIER + sig[:, r]
        pairs.append(_bucket_pairs(key, index))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    out = np.concatenate(pairs)
    return np.unique(out, axis=0) if len(out) else out.reshape(0, 2)


def _bucket_pairs(key: np.ndarray, index: np.ndarray) -> np.ndarray:
    order = np.argsort(key, kind="stable")
    key, members = key[order], index[order]
    boundaries = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate(([0], boundaries))
    sizes = np.diff(np.concatenate((starts, [len(key)])))
    out: list[np.ndarray] = []
    # Buckets of two: one vectorised step covers the common case.
    two = starts[sizes == 2]
    if len(two):
        out.append(np.stack([members[two], members[two + 1]], axis=1))
    for start, size in zip(starts[sizes > 2], sizes[sizes > 2], strict=True):
        group = np.sort(members[start : start + size])
        if size <= _FULL_PAIRS_BUCKET:
            i, j = np.triu_indices(size, k=1)
        else:
            i = np.arange(size - 1)
            j = i + 1
        out.append(np.stack([group[i], group[j]], axis=1))
    if not out:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(out)
    return np.sort(pairs, axis=1)


def shingle_sets(hashes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Sorted unique shingle hashes of each document (the exact sets that verification uses)."""
    return [np.unique(h) for h in hashes]


def verify_pairs(
    pairs: np.ndarray,
    sets: Sequence[np.ndarray] | Mapping[int, np.ndarray],
    jaccard_threshold: float,
    containment_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep candidate pairs whose exact shingle overlap makes them copies.

    A pair is kept when its Jaccard similarity reaches ``jaccard_threshold`` or the smaller
    set is contained in the larger one to at least ``containment_threshold`` (a truncated
    copy).

    Args:
        pairs: ``(m, 2)`` candidate index pairs.
        sets: sorted unique shingle hashes by document index (a sequence, or a mapping that
            holds at least the documents named in ``pairs``).

    Returns:
        The kept pairs and their exact Jaccard similarity (``float32``).
    """
    keep = np.zeros(len(pairs), dtype=bool)
    score = np.zeros(len(pairs), dtype=np.float32)
    for k, (i, j) in enumerate(pairs.tolist()):
        a, b = sets[i], sets[j]
        if len(a) == 0 or len(b) == 0:
            continue
        inter = len(np.intersect1d(a, b, assume_unique=True))
        union = len(a) + len(b) - inter
        jaccard = inter / union
        containment = inter / min(len(a), len(b))
        if jaccard >= jaccard_threshold or containment >= containment_threshold:
            keep[k] = True
            score[k] = jaccard
    return pairs[keep], score[keep]


@dataclass(frozen=True)
class DuplicateGroups:
    """Result of grouping: for each document its group's canonical index and whether it is it."""

    canonical: np.ndarray  # (n,) int64 index of the canonical document of each one's group
    n_groups: int

    @property
    def is_canonical(self) -> np.ndarray:
        return self.canonical == np.arange(len(self.canonical))


def group_duplicates(
    n: int,
    pairs: np.ndarray,
    article_ids: Sequence[str],
    published: Sequence[float | None],
) -> DuplicateGroups:
    """Connected components of the duplicate pairs, each with a stable canonical article.

    The canonical article of a group is the earliest published one (documents without a date
    come after dated ones), then the one with the smallest ``article_id``: the same input
    always gives the same canonical choice, whatever its order.
    """
    if len(pairs):
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        n_groups, labels = connected_components(graph, directed=False)
    else:
        n_groups, labels = n, np.arange(n)
    order = sorted(range(n), key=lambda i: (published[i] is None, published[i] or 0.0, article_ids[i]))
    canonical_of_label: dict[int, int] = {}
    for i in order:
        canonical_of_label.setdefault(int(labels[i]), i)
    canonical = np.fromiter((canonical_of_label[int(lab)] for lab in labels), dtype=np.int64, count=n)
    return DuplicateGroups(canonical=canonical, n_groups=int(n_groups))
