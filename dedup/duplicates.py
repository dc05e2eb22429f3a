"""Duplicate detection: exact content hashes, then MinHash LSH candidates verified exactly.

Stages, each a function: :func:`band_candidates` (LSH banding by sort and group, no
per-document Python loop), :func:`verify_pairs` (exact shingle Jaccard and containment
decide; LSH only proposes), :func:`group_duplicates` (star groups around a stable
canonical article: earliest published, then smallest id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix

from dedup.coverage import CoverageCheck, apply_coverage

__all__ = [
    "DuplicateGroups",
    "ShingleSets",
    "band_candidates",
    "group_duplicates",
    "pair_intersections",
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
    if not len(out):
        return out.reshape(0, 2)
    keys = np.sort(out[:, 0] * np.int64(n) + out[:, 1])  # sorted like the pairs themselves
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return np.stack([keys // n, keys % n], axis=1)


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
    sets: Sequence[np.ndarray] | Mapping[int, np.ndarray] | ShingleSets,
    jaccard_threshold: float,
    containment_threshold: float,
    *,
    min_containment_shingles: int = 20,
    min_length_ratio: float = 0.5,
    coverage: CoverageCheck | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep candidate pairs whose exact shingle overlap makes them copies.

    A pair is kept when its Jaccard similarity reaches ``jaccard_threshold``, or when the
    smaller set is contained in the larger one to at least ``containment_threshold`` (a
    truncated copy). Containment counts only for a smaller set of at least
    ``min_containment_shingles`` shingles and ``min_length_ratio`` of the larger one: a
    short boilerplate text is contained in every page that carries it, and a paragraph
    quoted inside a long story does not make the story a copy.

    With ``coverage``, the shingles' order decides as well (:func:`dedup.coverage.apply_coverage`):
    a pair of such sizes that neither test keeps is kept when the shorter document's tokens
    are covered by shared shingles to ``coverage.threshold`` (an edited, cut copy), and any
    kept pair is dropped when a document has a long stretch of its own inside it (two
    articles sharing passages).

    Args:
        pairs: ``(m, 2)`` candidate index pairs.
        sets: sorted unique shingle hashes by document index (a sequence, or a mapping that
            holds at least the documents named in ``pairs``).
        coverage: the order-aware check and where the documents' shingle sequences come from.

    Returns:
        The kept pairs and their exact Jaccard similarity (``float32``).
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    values, offsets, rows = _as_csr(pairs, sets)
    size_a, size_b = np.diff(offsets)[rows[:, 0]], np.diff(offsets)[rows[:, 1]]
    inter = pair_intersections(rows, values, offsets)
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = inter / (size_a + size_b - inter)
        small, large = np.minimum(size_a, size_b), np.maximum(size_a, size_b)
        containment = inter / small
    sized = (small >= min_containment_shingles) & (small >= min_length_ratio * large)
    contained = (containment >= containment_threshold) & sized
    keep = (small > 0) & ((jaccard >= jaccard_threshold) | contained)
    if coverage is not None:
        keep = apply_coverage(pairs, rows, values, offsets, keep, sized & (small > 0) & ~keep & (
            containment >= coverage.min_containment), coverage)
    score = np.where(keep, jaccard, 0.0).astype(np.float32)
    return pairs[keep], score[keep]


def _as_csr(
    pairs: np.ndarray, sets: Sequence[np.ndarray] | Mapping[int, np.ndarray] | ShingleSets
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat values, offsets, and the rows of the pairs' documents in them."""
    if isinstance(sets, ShingleSets):
        return sets.values, sets.offsets, sets.rows(pairs)
    docs = np.unique(pairs)
    arrays = [np.asarray(sets[int(d)]) for d in docs]
    lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
    values = np.concatenate(arrays).astype(np.uint32) if arrays else np.empty(0, dtype=np.uint32)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return values, offsets, np.searchsorted(docs, pairs)


@dataclass(frozen=True)
class ShingleSets:
    """Sorted unique shingle hashes of some documents, stored flat.

    Document ``docs[r]`` owns ``values[offsets[r]:offsets[r + 1]]``; ``docs`` is sorted.
    """

    docs: np.ndarray
    values: np.ndarray
    offsets: np.ndarray

    def rows(self, documents: np.ndarray) -> np.ndarray:
        rows = np.searchsorted(self.docs, documents)
        if len(rows) and (rows.max() >= len(self.docs) or not np.array_equal(self.docs[rows], documents)):
            raise KeyError("a document of the pairs has no shingle set")
        return rows

_INTERSECT_CHUNK = 8_000_000  # shingles gathered per step of pair_intersections


def _gather(rows: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the values of ``rows`` one after the other, and the position (in ``rows``) of each."""
    starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
    total = int(lengths.sum())
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    first = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return np.arange(total, dtype=np.int64) - first[owner] + starts[owner], owner


def pair_intersections(rows: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Size of the intersection of the two sorted sets of each pair, all pairs at once.

    Each side's values are tagged with the pair's position in the high 32 bits, so both
    sides become one sorted array each and a single ``searchsorted`` finds the common ones.
    """
    sizes = np.diff(offsets)
    cost = np.cumsum(sizes[rows[:, 0]] + sizes[rows[:, 1]])
    out = np.zeros(len(rows), dtype=np.int64)
    start = 0
    while start < len(rows):
        stop = int(np.searchsorted(cost, (cost[start - 1] if start else 0) + _INTERSECT_CHUNK, side="right"))
        stop = min(max(stop, start + 1), len(rows))
        chunk = rows[start:stop]
        index_a, owner_a = _gather(chunk[:, 0], offsets)
        index_b, owner_b = _gather(chunk[:, 1], offsets)
        keys_a = (owner_a.astype(np.uint64) << np.uint64(32)) | values[index_a].astype(np.uint64)
        keys_b = (owner_b.astype(np.uint64) << np.uint64(32)) | values[index_b].astype(np.uint64)
        if len(keys_b):
            at = np.minimum(np.searchsorted(keys_b, keys_a), len(keys_b) - 1)
            found = keys_b[at] == keys_a
            out[start:stop] = np.bincount(owner_a[found], minlength=len(chunk))
        start = stop
    return out


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
    movable: np.ndarray | None = None,
    strong: np.ndarray | None = None,
) -> DuplicateGroups:
    """Duplicate groups as stars around a stable canonical article, then strays attached.

    Articles are taken in canonical order (earliest published first, undated after dated,
    then smallest ``article_id``); each one not yet grouped becomes a canonical article and
    takes every verified neighbour not yet grouped. So a chain of pairs (A~B, B~C, A and C
    unlike) never merges A and C through B alone.

    ``strong`` (boolean per pair) marks pairs verified by whole-text similarity (Jaccard),
    not only because one text is contained in or covered by the other. A group whose
    canonical article is strongly verified against a member of a better-ranked group joins
    that group (of its best-ranked such member): when a copy of an article becomes
    canonical of its own small group before the article joins another group, the two
    groups meet again. Containment alone never joins groups: an article that is the first
    part of a longer one would chain unlike articles.

    An article left on its own by the stars (no canonical article took it and it took
    none) although it is verified against a member of a group joins that group (of its
    best-ranked such neighbour): a copy whose original another copy took as canonical
    stays with its original. Such an article is verified against that member, not the
    canonical article. Two such strays are never verified against each other (the first
    in canonical order would have taken the other), so no longer chain forms.

    ``classes`` labels exact copies (same normalised content); a class moves as one unit,
    so exact copies always share a group. ``movable`` (boolean, default all) marks the
    articles whose group may join another group, or that may join one as strays; others
    keep their groups.

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
        sure = np.zeros(len(a), dtype=bool) if strong is None else np.asarray(strong, dtype=bool)[keep]
        both = (np.concatenate([a, b]), np.concatenate([b, a]))
        graph = coo_matrix((np.ones(2 * len(a)), both), shape=(n, n)).tocsr()
        linked = np.unique(np.concatenate([a, b]))
        for i in linked[np.argsort(rank[linked], kind="stable")].tolist():
            if head[i] != i:
                continue  # already taken by a better-ranked canonical article
            neighbours = graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
            free = neighbours[(head[neighbours] == neighbours) & (rank[neighbours] > rank[i])]
            head[free] = i
        may_move = np.ones(n, dtype=bool) if movable is None else np.asarray(movable, dtype=bool)
        _join_groups(head, a[sure], b[sure], rank, may_move)
        _attach_strays(head, graph, linked[np.argsort(rank[linked], kind="stable")], rank, may_move)
    canonical = head[unit]
    return DuplicateGroups(canonical=canonical, n_groups=len(np.unique(canonical)))


def _join_groups(head: np.ndarray, a: np.ndarray, b: np.ndarray, rank: np.ndarray, movable: np.ndarray) -> None:
    """Groups whose canonical unit is strongly verified (pairs ``a[k]``, ``b[k]``) against a
    member of a better-ranked group join that group; ``head`` is updated in place."""
    n = len(head)
    target = np.full(n, -1, dtype=np.int64)
    for x, y in zip(np.concatenate([a, b]).tolist(), np.concatenate([b, a]).tolist(), strict=True):
        if head[x] != x or head[y] == x or not movable[x] or rank[head[y]] >= rank[x]:
            continue  # x leads no group, y is in x's own, or y's group ranks after x's
        if target[x] < 0 or rank[y] < rank[target[x]]:
            target[x] = y
    joining = np.flatnonzero(target >= 0)
    if not len(joining):
        return
    final = np.arange(n, dtype=np.int64)
    # In canonical order: a group's target group has already found its own final group.
    for x in joining[np.argsort(rank[joining], kind="stable")].tolist():
        final[x] = final[head[target[x]]]
    head[:] = final[head]


def _attach_strays(head: np.ndarray, graph: Any, units: np.ndarray, rank: np.ndarray, movable: np.ndarray) -> None:
    """Units the stars left alone join the group of their best-ranked verified neighbour in a group.

    ``head`` maps each unit to its canonical unit (updated in place); ``units`` are the
    linked units in canonical order. Only units alone before this step move, and only into
    groups formed before it.
    """
    n = len(head)
    alone = (head == np.arange(n)) & (np.bincount(head, minlength=n) == 1)
    for i in units.tolist():
        if not (alone[i] and movable[i]):
            continue
        neighbours = graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
        grouped = neighbours[~alone[neighbours]]
        if len(grouped):
            head[i] = head[grouped[np.argmin(rank[grouped])]]
