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
    *,
    min_containment_shingles: int = 20,
    min_length_ratio: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep candidate pairs whose exact shingle overlap makes them copies.

    A pair is kept when its Jaccard similarity reaches ``jaccard_threshold``, or when the
    smaller set is contained in the larger one to at least ``containment_threshold`` (a
    truncated copy). Containment counts only for a smaller set of at least
    ``min_containment_shingles`` shingles and ``min_length_ratio`` of the larger one: a
    short boilerplate text is contained in every page that carries it, and a paragraph
    quoted inside a long story does not make the story a copy.

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
        small, large = sorted((len(a), len(b)))
        containment = inter / small
        contained = (
            containment >= containment_threshold
            and small >= min_containment_shingles
            and small >= min_length_ratio * large
        )
        if jaccard >= jaccard_threshold or contained:
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
    classes: np.ndarray | None = None,
) -> DuplicateGroups:
    """Duplicate groups as stars around a stable canonical article.

    Articles are taken in canonical order (earliest published first, undated after dated,
    then smallest ``article_id``); each one not yet grouped becomes a canonical article and
    takes every verified neighbour not yet grouped. So every member of a group is verified
    against its canonical article itself: a chain of pairs (A~B, B~C, A and C unlike) never
    merges A and C. ``classes`` labels exact copies (same normalised content); a class moves
    as one unit, so exact copies always share a group.

    The same input always gives the same groups and canonical choice, whatever its order.
    """
    classes = np.arange(n) if classes is None else np.asarray(classes)
    order = sorted(range(n), key=lambda i: (published[i] is None, published[i] or 0.0, article_ids[i]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    # Each class is led by its best-ranked member; classes are the units of the star grouping.
    leader: dict[int, int] = {}
    for i in order:
        leader.setdefault(int(classes[i]), i)
    unit = np.fromiter((leader[int(c)] for c in classes), dtype=np.int64, count=n)
    head = np.arange(n, dtype=np.int64)
    if len(pairs):
        a, b = unit[pairs[:, 0]], unit[pairs[:, 1]]
        keep = a != b
        a, b = a[keep], b[keep]
        graph = coo_matrix((np.ones(2 * len(a)), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)).tocsr()
        linked = np.unique(np.concatenate([a, b]))
        for i in linked[np.argsort(rank[linked], kind="stable")].tolist():
            if head[i] != i:
                continue  # already taken by a better-ranked canonical article
            neighbours = graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
            free = neighbours[(head[neighbours] == neighbours) & (rank[neighbours] > rank[i])]
            head[free] = i
    canonical = head[unit]
    return DuplicateGroups(canonical=canonical, n_groups=int(len(np.unique(canonical))))
