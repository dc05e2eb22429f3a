"""Duplicate detection: exact content hashes, then MinHash LSH candidates verified exactly.

Stages, each a function: :func:`band_candidates` (LSH banding by sort and group, no
per-document Python loop), :func:`plausible_pairs` (drops candidates whose signatures
agree far too little to pass verification), :func:`verify_pairs` (exact shingle Jaccard
and containment decide; LSH only proposes), :func:`group_duplicates` (star groups around
a stable canonical article: earliest published, then smallest id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix

from dedup.config import DuplicateConfig
from dedup.coverage import CoverageCheck, FlatDocuments, ShingleSequences, apply_coverage, shingle_sequences
from dedup.minhash import MAX_HASH, copy_spans, length_chunks

__all__ = [
    "DuplicateGroups",
    "ShingleSets",
    "band_candidates",
    "group_duplicates",
    "intersection_bounds",
    "jaccard_floor",
    "lowest_containment",
    "pair_floors",
    "pair_intersections",
    "plausible_candidates",
    "plausible_pairs",
    "shingle_sets",
    "verify_candidates",
    "verify_pairs",
]

_BAND_MULTIPLIER = np.uint64(0xFF51AFD7ED558CCD)
_FULL_PAIRS_BUCKET = 64  # larger buckets are chained instead of fully paired (they are mostly noise)


def _in_threads(step: Callable[[int], Any], firsts: range) -> list[Any]:
    """``[step(first) for first in firsts]``, run two at a time in threads: for steps whose
    work is NumPy's, which leaves the interpreter free."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="newsdedup-steps") as threads:
        return list(threads.map(step, firsts))


def band_candidates(signatures: np.ndarray, bands: int, rows: int, eligible: np.ndarray | None = None) -> np.ndarray:
    """Candidate pairs ``(i, j)``, ``i < j``, that share at least one LSH band.

    Each band's key is hashed from its ``rows`` signature values and the band number. Per
    band, the key's high bits and the document's position share one 64-bit word, so a
    plain sort groups equal keys (buckets) with their documents in order; each bucket gives
    its pairs: all pairs in a bucket of up to 64 documents, consecutive documents in a
    larger one (those are mostly noise). Two keys that agree in their high bits only make
    one more candidate, which verification rejects.

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
    m = len(index)
    if m < 2 or not bands:
        return np.empty((0, 2), dtype=np.int64)
    position_bits = max(1, (m - 1).bit_length())
    low = np.uint64((1 << position_bits) - 1)
    positions = np.arange(m, dtype=np.uint64)

    def band_codes(band: int) -> np.ndarray:
        key = np.full(m, band, dtype=np.uint64)
        for r in range(band * rows, (band + 1) * rows):
            np.multiply(key, _BAND_MULTIPLIER, out=key)
            np.add(key, signatures[index, r], out=key, casting="unsafe")  # one column at a time
        np.multiply(key, _BAND_MULTIPLIER, out=key)  # the high bits now depend on every value
        packed = (key & ~low) | positions
        packed.sort()
        first, second = _bucket_pairs(packed >> np.uint64(position_bits))
        members = index[(packed & low).astype(np.int64)]
        code = members[first] * np.int64(n) + members[second]
        code.sort()
        return code

    codes = _in_threads(band_codes, range(bands))  # the bands are independent
    code = np.concatenate(codes)
    del codes  # the bands' pairs are held once, not twice
    code.sort(kind="stable")  # sorted runs, one per band, merged
    if len(code):
        code = code[np.concatenate(([True], code[1:] != code[:-1]))]
    pairs = np.empty((len(code), 2), dtype=np.int64)
    np.floor_divide(code, n, out=pairs[:, 0])
    np.remainder(code, n, out=pairs[:, 1])
    return pairs


def _bucket_pairs(keys: np.ndarray) -> np.ndarray:
    """Positions ``(p, q)``, ``p < q``, paired within runs of equal sorted ``keys`` (shape ``(2, m)``)."""
    boundaries = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.concatenate(([0], boundaries))
    sizes = np.diff(np.concatenate((starts, [len(keys)])))
    starts, sizes = starts[sizes > 1], sizes[sizes > 1]
    if not len(starts):
        return np.empty((2, 0), dtype=np.int64)
    position = np.repeat(starts, sizes) + _ranks(sizes)
    end = np.repeat(starts + sizes, sizes)
    # Each position pairs with every later one of its bucket, or only the next in a large bucket.
    partners = np.where(np.repeat(sizes, sizes) <= _FULL_PAIRS_BUCKET, end - 1 - position,
                        (position < end - 1).astype(np.int64))
    left = np.repeat(position, partners)
    return np.stack([left, left + 1 + _ranks(partners)])


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """``0, 1, ..., size - 1`` for each size, one after the other."""
    total = int(sizes.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def jaccard_floor(jaccard_threshold: float, containment_threshold: float, min_length_ratio: float) -> float:
    """The smallest Jaccard similarity of a pair that :func:`verify_pairs` can keep.

    A contained pair has an intersection of at least ``containment_threshold`` of the
    smaller set and a larger set of at most ``1 / min_length_ratio`` times it, so its
    Jaccard similarity is at least ``c * r / (r + 1 - c * r)``.

    >>> round(jaccard_floor(0.5, 0.7, 0.5), 3)
    0.304
    """
    c, r = containment_threshold, min_length_ratio
    return min(jaccard_threshold, c * r / (r + 1 - c * r))


def pair_floors(
    size_a: np.ndarray,
    size_b: np.ndarray,
    jaccard_threshold: float,
    containment_threshold: float,
    *,
    min_containment_shingles: int = 10,
    min_length_ratio: float = 0.5,
) -> np.ndarray:
    """The smallest Jaccard similarity that :func:`verify_pairs` can keep for pairs of sets
    of these sizes: ``jaccard_threshold``, or lower where containment may apply (the
    smaller set large enough, and at least ``min_length_ratio`` of the larger one).

    >>> pair_floors(np.array([400, 200, 8]), np.array([400, 400, 12]), 0.5, 0.7).round(3).tolist()
    [0.5, 0.304, 0.5]
    """
    small = np.minimum(size_a, size_b).astype(np.float64)
    large = np.maximum(size_a, size_b).astype(np.float64)
    c = containment_threshold
    contained = (small >= min_containment_shingles) & (small >= min_length_ratio * large) & (small > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.where(contained, c * small / (small + large - c * small), jaccard_threshold)
    return np.minimum(floor, jaccard_threshold)


def plausible_pairs(
    pairs: np.ndarray, signatures: np.ndarray, floor: float | np.ndarray, *, z: float = 4.5
) -> np.ndarray:
    """Mask of the candidate pairs whose signatures agree in enough positions for their
    Jaccard similarity to reach ``floor`` (one for all, or one per pair as
    :func:`pair_floors` gives).

    Each position of two signatures agrees with probability equal to the pair's Jaccard
    similarity. A pair is dropped when its number of agreeing positions lies more than
    ``z`` standard deviations below what a pair at ``floor`` shows on average; the
    deviation counts as trials only the filled bins (distinct values) of the signature
    with fewer, so a short document, whose empty bins copy filled ones, is hardly ever
    dropped. At ``z = 4.5`` a pair at ``floor`` is dropped with a probability of the order
    of 1e-5; a banding with two rows per band misses far more of them.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return _agree_enough(pairs, signatures.astype(np.uint8), _filled_bins(signatures), floor, z)


def _agree_enough(pairs: np.ndarray, low_bytes: np.ndarray, filled: np.ndarray, floor: float | np.ndarray,
                  z: float) -> np.ndarray:
    """:func:`plausible_pairs` given the signatures' low bytes and filled bins."""
    floor = np.broadcast_to(np.asarray(floor, dtype=np.float64), (len(pairs),))
    if not len(pairs):
        return np.ones(0, dtype=bool)
    num_perm = low_bytes.shape[1]
    trials = np.minimum(filled[pairs[:, 0]], filled[pairs[:, 1]])
    need = num_perm * (floor - z * np.sqrt(floor * (1.0 - floor) / trials))
    # Agreement is counted on the low byte of each value: it can only count too many.
    agree = np.empty(len(pairs), dtype=np.int64)
    step = max(1, (1 << 21) // num_perm)
    for first in range(0, len(pairs), step):
        chunk = pairs[first : first + step]
        agree[first : first + step] = np.count_nonzero(low_bytes[chunk[:, 0]] == low_bytes[chunk[:, 1]], axis=1)
    return agree >= need


# Candidate pairs whose signatures are compared in one step (two steps run at once).
_PLAUSIBLE_PAIRS = 2_000_000


def plausible_candidates(candidates: np.ndarray, signatures: np.ndarray, set_sizes: np.ndarray | None,
                         config: DuplicateConfig) -> np.ndarray:
    """The candidate pairs whose signatures agree enough for verification to keep them
    (:func:`plausible_pairs`), ``_PLAUSIBLE_PAIRS`` at a time, two steps at once in threads
    (their work is NumPy's). With the exact shingle set sizes of the documents, each pair's
    floor is the lowest Jaccard its sizes allow (:func:`pair_floors`); without, one floor
    for all."""
    low_bytes, filled = signatures.astype(np.uint8), _filled_bins(signatures)

    def plausible(first: int) -> np.ndarray:
        pairs = candidates[first : first + _PLAUSIBLE_PAIRS]
        if set_sizes is not None:
            floor: float | np.ndarray = pair_floors(
                set_sizes[pairs[:, 0]], set_sizes[pairs[:, 1]], config.jaccard_threshold, lowest_containment(config),
                min_containment_shingles=config.min_containment_shingles, min_length_ratio=config.min_length_ratio)
        else:
            floor = jaccard_floor(config.jaccard_threshold, lowest_containment(config), config.min_length_ratio)
        return pairs[_agree_enough(pairs, low_bytes, filled, floor, 4.5)]

    return np.concatenate([candidates[:0], *_in_threads(plausible, range(0, len(candidates), _PLAUSIBLE_PAIRS))])


def _filled_bins(signatures: np.ndarray) -> np.ndarray:
    """Distinct values of each signature: the bins its shingles filled before densification."""
    filled = np.empty(len(signatures), dtype=np.int64)
    step = max(1, (1 << 22) // max(signatures.shape[1], 1))

    def count(first: int) -> None:
        ordered = np.sort(signatures[first : first + step], axis=1)
        filled[first : first + step] = 1 + np.count_nonzero(ordered[:, 1:] != ordered[:, :-1], axis=1)

    _in_threads(count, range(0, len(signatures), step))
    return filled


def shingle_sets(hashes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Sorted unique shingle hashes of each document (the exact sets that verification uses)."""
    return [np.unique(h) for h in hashes]


def verify_pairs(
    pairs: np.ndarray,
    sets: Sequence[np.ndarray] | Mapping[int, np.ndarray] | ShingleSets,
    jaccard_threshold: float,
    containment_threshold: float,
    *,
    min_containment_shingles: int = 10,
    min_length_ratio: float = 0.5,
    coverage: CoverageCheck | None = None,
    bounds: np.ndarray | None = None,
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

    The exact intersection is counted only for pairs whose upper bound
    (:func:`intersection_bounds`) could reach one of these thresholds; no other pair can
    be kept, so the result is that of counting every pair.

    Args:
        pairs: ``(m, 2)`` candidate index pairs.
        sets: sorted unique shingle hashes by document index (a sequence, or a mapping that
            holds at least the documents named in ``pairs``).
        coverage: the order-aware check and where the documents' shingle sequences come from.
        bounds: the pairs' :func:`intersection_bounds` when already known (computed here
            otherwise).

    Returns:
        The kept pairs and their exact Jaccard similarity (``float32``).
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    values, offsets, rows = _as_csr(pairs, sets)
    size_a, size_b = np.diff(offsets)[rows[:, 0]], np.diff(offsets)[rows[:, 1]]
    small, large = np.minimum(size_a, size_b), np.maximum(size_a, size_b)
    sized = (small >= min_containment_shingles) & (small >= min_length_ratio * large)
    lowest = containment_threshold
    if coverage is not None and coverage.threshold is not None:
        lowest = min(lowest, coverage.min_containment)
    # Only pairs whose bound reaches a threshold can be kept: the others need no exact count.
    if bounds is None:
        bounds = intersection_bounds(rows, values, offsets)
    jaccard, containment = _overlap_ratios(bounds, size_a, size_b)
    possible = (small > 0) & ((jaccard >= jaccard_threshold) | (sized & (containment >= lowest)))
    inter = np.zeros(len(pairs), dtype=np.int64)
    inter[possible] = pair_intersections(rows[possible], values, offsets)
    jaccard, containment = _overlap_ratios(inter, size_a, size_b)
    contained = (containment >= containment_threshold) & sized
    keep = possible & ((jaccard >= jaccard_threshold) | contained)
    if coverage is not None:
        keep = apply_coverage(pairs, rows, values, offsets, keep, possible & sized & ~keep & (
            containment >= coverage.min_containment), coverage)
    score = np.where(keep, jaccard, 0.0).astype(np.float32)
    return pairs[keep], score[keep]


def _overlap_ratios(inter: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jaccard similarity and containment of the smaller set for intersections of ``inter``
    shingles (both grow with ``inter``, also as rounded floats)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (size_a + size_b - inter), inter / np.minimum(size_a, size_b)


def intersection_bounds(rows: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """An upper bound of the intersection size of the two sorted sets of each pair, at a
    small part of the cost of counting it.

    Each set is mapped to the buckets of ``2**_BOUND_BITS`` that the top bits of its values
    fill (a bitmap). A shared value lies in a bucket that both sets fill, and a bucket holds
    at most one shared value besides the set's other values in it; so two sets share at most
    the buckets they both fill plus the values either set has beyond the first in its
    buckets (the smaller of the two such counts).

    Args:
        rows: ``(m, 2)`` rows (of ``offsets``) of the two sets of each pair.
        values, offsets: the sets, stored flat.

    Returns:
        ``int64`` bounds, at least the exact intersection sizes.
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    docs, inverse = np.unique(rows, return_inverse=True)
    inverse = inverse.reshape(-1, 2)
    maps = _bucket_maps(np.asarray(values, dtype=np.uint32), offsets[docs], np.diff(offsets)[docs])
    spare = np.diff(offsets)[docs] - _set_bits(maps)
    out = np.empty(len(rows), dtype=np.int64)
    step = 1 << 14

    def bound(first: int) -> None:
        a, b = inverse[first : first + step, 0], inverse[first : first + step, 1]
        out[first : first + step] = _set_bits(maps[a] & maps[b]) + np.minimum(spare[a], spare[b])

    _in_threads(bound, range(0, len(rows), step))
    return out


_BOUND_BITS = 12  # 4096 buckets: a 512-byte bitmap per set
_BYTE_BITS = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)


def _bucket_maps(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The bitmap (``uint64`` words) of the buckets that each set ``values[starts[r]:][:lengths[r]]`` fills."""
    buckets = 1 << _BOUND_BITS
    maps = np.empty((len(starts), buckets // 64), dtype=np.uint64)
    step = 4096  # sets per block: a block's flags take 16 MB

    def fill(first: int) -> None:
        start, length = starts[first : first + step], lengths[first : first + step]
        total = int(length.sum())
        position = np.repeat(start - (np.cumsum(length) - length), length) + np.arange(total, dtype=np.int64)
        owner = np.repeat(np.arange(len(start), dtype=np.int64) * buckets, length)
        flags = np.zeros(len(start) * buckets, dtype=bool)
        flags[owner + (values[position] >> np.uint32(32 - _BOUND_BITS))] = True
        maps[first : first + step] = np.packbits(flags).view(np.uint64).reshape(len(start), -1)

    _in_threads(fill, range(0, len(starts), step))
    return maps


def _set_bits(words: np.ndarray) -> np.ndarray:
    """Number of set bits of each row of a 2-D ``uint64`` array."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(words).sum(axis=1, dtype=np.int64)
    return _BYTE_BITS[words.view(np.uint8)].sum(axis=1)


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
class ShingleSets(FlatDocuments):
    """Sorted unique shingle hashes of some documents, stored flat."""

    what = "shingle set"


def pair_intersections(rows: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Size of the intersection of the two sorted sets of each pair, all pairs at once.

    Pairs of similar total size are handled together: each pair's two sets become one row
    of a padded 2-D array of 32-bit values, the rows are sorted, and a value present in both
    sets shows up as two equal neighbours (each set holds it once).
    """

    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    values = np.asarray(values, dtype=np.uint32)
    sizes = np.diff(offsets)
    size_a, size_b = sizes[rows[:, 0]], sizes[rows[:, 1]]
    total = size_a + size_b
    out = np.zeros(len(rows), dtype=np.int64)
    for chunk in length_chunks(total):
        width = max(int(total[chunk].max()), 2)
        block = np.full((len(chunk), width), MAX_HASH, dtype=np.uint32)
        row_starts = np.arange(len(chunk), dtype=np.int64) * width
        copy_spans(values, offsets[rows[chunk, 0]], size_a[chunk], block.reshape(-1), row_starts)
        copy_spans(values, offsets[rows[chunk, 1]], size_b[chunk], block.reshape(-1), row_starts + size_a[chunk])
        block.sort(axis=1)
        equal = block[:, 1:] == block[:, :-1]
        equal &= np.arange(1, width)[None, :] < total[chunk][:, None]  # not the padding
        out[chunk] = np.count_nonzero(equal, axis=1)
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


def lowest_containment(config: DuplicateConfig) -> float:
    """The lowest containment at which verification may keep a pair: the containment
    threshold, or the coverage check's minimum containment when that check is on."""
    if config.coverage_threshold is None:
        return config.containment_threshold
    return min(config.containment_threshold, config.coverage_min_containment)


def verify_candidates(
    candidates: np.ndarray,
    sets: Any,
    config: DuplicateConfig,
    texts_of: Callable[[np.ndarray], list[str]] | None,
    shingle_size: int,
    *,
    sequences: ShingleSequences | None = None,
    bounds: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs that exact shingle overlap (and order) confirms as copies, and
    which of them reach the Jaccard threshold (whole-text similarity).

    The order-aware test takes the documents' shingles in text order from ``sequences``
    when given (it must hold every document of the pairs); otherwise ``texts_of(rows)``
    returns the raw texts of sorted document rows, which it shingles again, only for the
    pairs that need the test. ``bounds``: the pairs' :func:`intersection_bounds`, when known.
    """

    coverage = None
    if config.coverage_threshold is not None or config.max_inner_gap is not None:
        if sequences is not None:
            stored = sequences

            def sequences_of(rows: np.ndarray) -> ShingleSequences:
                return stored
        elif texts_of is not None:
            read = texts_of

            def sequences_of(rows: np.ndarray) -> ShingleSequences:
                return shingle_sequences(read(rows), rows, shingle_size)
        else:
            raise ValueError("the coverage check needs the texts or the shingle sequences")
        coverage = CoverageCheck(
            sequences_of=sequences_of,
            shingle_size=shingle_size,
            threshold=config.coverage_threshold,
            min_containment=config.coverage_min_containment,
            max_inner_gap=config.max_inner_gap,
            inside_coverage=config.inside_coverage,
        )
    near, jaccard = verify_pairs(
        candidates,
        sets,
        config.jaccard_threshold,
        config.containment_threshold,
        min_containment_shingles=config.min_containment_shingles,
        min_length_ratio=config.min_length_ratio,
        coverage=coverage,
        bounds=bounds,
    )
    return near, jaccard >= np.float32(config.jaccard_threshold)
