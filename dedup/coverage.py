"""Order-aware token coverage: how much of the shorter document another document repeats.

A syndicated copy that a copy editor touched and a site cut short loses many of its word
shingles (every edited word breaks ``shingle_size`` of them), so its shingle Jaccard and
containment can be low. Yet nearly every one of its *tokens* still sits inside some shingle
that the original has too: the coverage of its tokens stays high. Two distinct articles
that share a quoted passage cover only that passage.

The coverage of document ``a`` by document ``b`` is the share of ``a``'s tokens that lie in
at least one of ``a``'s shingles (in text order) found in ``b``'s shingle set.
:func:`token_coverage` computes it for many pairs at once, for the shorter document of each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CoverageCheck",
    "FlatDocuments",
    "ShingleSequences",
    "apply_coverage",
    "sequences_from_hashes",
    "shingle_sequences",
    "token_coverage",
]

_COVERAGE_CHUNK = 8_000_000  # shingles gathered per step of token_coverage


@dataclass(frozen=True)
class FlatDocuments:
    """Arrays of some documents stored flat: document ``docs[r]`` owns
    ``values[offsets[r]:offsets[r + 1]]``; ``docs`` is sorted."""

    docs: np.ndarray
    values: np.ndarray
    offsets: np.ndarray
    #: What each document's array is, for the error of :meth:`rows`.
    what = "array"

    def rows(self, documents: np.ndarray) -> np.ndarray:
        """Positions in ``docs`` of the given documents (all must be present)."""
        rows = np.searchsorted(self.docs, documents)
        if len(rows) and (rows.max() >= len(self.docs) or not np.array_equal(self.docs[rows], documents)):
            raise KeyError(f"a document of the pairs has no {self.what}")
        return rows


@dataclass(frozen=True)
class ShingleSequences(FlatDocuments):
    """Shingle hashes of some documents in text order (repeats kept), stored flat."""

    what = "shingle sequence"


def shingle_sequences(
    texts: list[str], docs: np.ndarray, shingle_size: int, *, normalized: bool = False
) -> ShingleSequences:
    """Shingle sequences of ``texts`` belonging to the sorted document indices ``docs``.

    The texts are raw, or with ``normalized`` as :func:`dedup.text.normalize_for_hash`
    returns them; either way their tokens are those of ``normalize_for_hash``, as for the
    shingle sets (:func:`dedup.minhash.shingles_of_texts`).
    """
    from dedup.minhash import shingles_of_texts

    docs = np.asarray(docs, dtype=np.int64)
    if len(texts) != len(docs):
        raise ValueError(f"{len(texts)} texts for {len(docs)} documents")
    values, offsets = shingles_of_texts(texts, shingle_size, normalized=normalized)
    return ShingleSequences(docs, values, np.asarray(offsets, dtype=np.int64))


def sequences_from_hashes(hashes: Sequence[np.ndarray], docs: np.ndarray | None = None) -> ShingleSequences:
    """Shingle sequences from per-document shingle hashes in text order (``hashes[d]`` is
    document ``d``'s); only the documents ``docs`` (sorted) are kept, all when None."""
    docs = np.arange(len(hashes), dtype=np.int64) if docs is None else np.asarray(docs, dtype=np.int64)
    arrays = [np.asarray(hashes[int(d)], dtype=np.uint32) for d in docs]
    lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
    values = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.uint32)
    return ShingleSequences(docs, values, np.concatenate(([0], np.cumsum(lengths))).astype(np.int64))


@dataclass(frozen=True)
class CoverageCheck:
    """The order-aware test of :func:`apply_coverage`, and where its shingle sequences come from.

    Attributes:
        sequences_of: returns :class:`ShingleSequences` that hold (at least) the given sorted
            document indices; it is called once per verification, for the documents of the
            pairs that need the test.
        shingle_size: tokens per shingle.
        threshold: coverage of the shorter document that makes a pair a copy (None: coverage
            keeps no pair).
        min_containment: the coverage test is made only for pairs whose shingle containment
            reaches this (an edited copy with high coverage keeps many shingles too).
        max_inner_gap: a pair is no copy when either document has a stretch of more than this
            many tokens, neither at its start nor at its end, that the other lacks (None: no
            such test).
        inside_coverage: the longer document's stretches do not count when the shorter one
            is covered to at least this: a text wholly inside another is a copy with
            paragraphs cut, not a different article.
    """

    sequences_of: Callable[[np.ndarray], ShingleSequences]
    shingle_size: int
    threshold: float | None = 0.9
    min_containment: float = 0.5
    max_inner_gap: int | None = 45
    inside_coverage: float = 0.98


def token_coverage(
    seq_rows: np.ndarray,
    sequences: ShingleSequences,
    set_rows: np.ndarray,
    set_values: np.ndarray,
    set_offsets: np.ndarray,
    shingle_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of document ``seq_rows[p]`` by the shingle set ``set_rows[p]``, for every pair ``p``,
    and the longest inner stretch of the document that the set does not cover.

    A document of ``s`` shingles has ``s + shingle_size - 1`` tokens; token ``t`` is covered
    when one of the shingles that contain it (those starting at ``t - shingle_size + 1`` to
    ``t``) is in the other document's set. For the stretches, a covered run shorter than two
    shingles (``2 * shingle_size`` tokens) does not count as covered: a stock phrase that
    both texts happen to use does not split a passage of one's own in two. An inner
    stretch is one that neither starts nor ends the document (site furniture and a cut end
    are at the edges).

    Args:
        seq_rows: rows in ``sequences`` of the covered documents.
        sequences: their shingles in text order.
        set_rows: rows (of ``set_offsets``) of the other documents' sorted unique shingle sets.
        set_values, set_offsets: those sets, stored flat.
        shingle_size: tokens per shingle.

    Returns:
        ``float64`` coverage in ``[0, 1]`` (0 for a document without shingles) and ``int64``
        longest inner uncovered stretch in tokens (0 when there is none), per pair.
    """
    seq_rows = np.asarray(seq_rows, dtype=np.int64)
    set_rows = np.asarray(set_rows, dtype=np.int64)
    lengths = np.diff(sequences.offsets)[seq_rows]
    cost = np.cumsum(lengths + np.diff(set_offsets)[set_rows])
    coverage = np.zeros(len(seq_rows), dtype=np.float64)
    gap = np.zeros(len(seq_rows), dtype=np.int64)
    start = 0
    while start < len(seq_rows):
        stop = int(np.searchsorted(cost, (cost[start - 1] if start else 0) + _COVERAGE_CHUNK, side="right"))
        stop = min(max(stop, start + 1), len(seq_rows))
        coverage[start:stop], gap[start:stop] = _coverage_chunk(
            seq_rows[start:stop], sequences, set_rows[start:stop], set_values, set_offsets, int(shingle_size)
        )
        start = stop
    return coverage, gap


def _coverage_chunk(
    seq_rows: np.ndarray,
    sequences: ShingleSequences,
    set_rows: np.ndarray,
    set_values: np.ndarray,
    set_offsets: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    n_pairs = len(seq_rows)
    owner_a = np.repeat(np.arange(n_pairs, dtype=np.int64), np.diff(sequences.offsets)[seq_rows])
    hit = _shared(seq_rows, sequences, set_rows, set_values, set_offsets)
    # Lay each document's tokens out one after the other: shingle j of a document starts at
    # its token j, and the k - 1 tokens after its last shingle end its slot, so a shingle's
    # k tokens never reach the next document's slot.
    shingles = np.bincount(owner_a, minlength=n_pairs)
    tokens = np.where(shingles > 0, shingles + k - 1, 0)
    slot = np.concatenate(([0], np.cumsum(tokens))).astype(np.int64)
    first = np.concatenate(([0], np.cumsum(shingles)[:-1])).astype(np.int64)
    position = slot[owner_a] + (np.arange(len(owner_a), dtype=np.int64) - first[owner_a])
    starts = np.zeros(int(slot[-1]), dtype=bool)
    starts[position[hit]] = True
    covered = starts.copy()
    for shift in range(1, k):
        covered[shift:] |= starts[:-shift]
    token_owner = np.repeat(np.arange(n_pairs, dtype=np.int64), tokens)
    count = np.bincount(token_owner, weights=covered, minlength=n_pairs)
    coverage = np.where(tokens > 0, count / np.maximum(tokens, 1), 0.0)
    # Short covered runs count as uncovered; then the longest uncovered run inside each slot.
    run_start, run_length, run_owner = _runs(covered, slot, token_owner)
    short = covered[run_start] & (run_length < 2 * k)
    covered[np.repeat(run_start[short], run_length[short]) + _ramp(run_length[short])] = False
    run_start, run_length, run_owner = _runs(covered, slot, token_owner)
    inner = ~covered[run_start] & (run_start > slot[run_owner]) & (run_start + run_length < slot[run_owner + 1])
    gap = np.zeros(n_pairs, dtype=np.int64)
    np.maximum.at(gap, run_owner[inner], run_length[inner])
    return coverage, gap


def _shared(seq_rows: np.ndarray, sequences: ShingleSequences, set_rows: np.ndarray, set_values: np.ndarray,
            set_offsets: np.ndarray) -> np.ndarray:
    """Whether each shingle of the documents ``seq_rows`` (their sequences one after the other)
    is in the set ``set_rows`` of its pair.

    One binary search per pair in that set alone: a set of a few hundred values stays in the
    cache, where one search of all pairs' tagged values at once would not.
    """
    values, bounds = sequences.values, sequences.offsets
    parts = [np.zeros(0, dtype=bool)]
    for first, stop, set_first, set_stop in zip(bounds[seq_rows].tolist(), bounds[seq_rows + 1].tolist(),
                                                set_offsets[set_rows].tolist(), set_offsets[set_rows + 1].tolist(),
                                                strict=True):
        shingles, other = values[first:stop], set_values[set_first:set_stop]
        if set_stop > set_first:
            parts.append(other[np.minimum(np.searchsorted(other, shingles), set_stop - set_first - 1)] == shingles)
        else:
            parts.append(np.zeros(stop - first, dtype=bool))
    return np.concatenate(parts)


def _runs(flags: np.ndarray, slot: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of equal ``flags`` that do not cross a slot boundary: starts, lengths, slots."""
    if not len(flags):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    change = np.zeros(len(flags), dtype=bool)
    change[0] = True
    change[1:] = flags[1:] != flags[:-1]
    change[slot[1:-1][slot[1:-1] < len(flags)]] = True
    run_start = np.flatnonzero(change)
    run_length = np.diff(np.concatenate((run_start, [len(flags)])))
    return run_start, run_length, owner[run_start]


def _ramp(lengths: np.ndarray) -> np.ndarray:
    """``0, 1, ..., n - 1`` for each ``n`` of ``lengths``, one after the other."""
    lengths = np.asarray(lengths, dtype=np.int64)
    first = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(first, lengths)


def apply_coverage(
    pairs: np.ndarray,
    set_rows: np.ndarray,
    set_values: np.ndarray,
    set_offsets: np.ndarray,
    keep: np.ndarray,
    may_cover: np.ndarray,
    check: CoverageCheck,
) -> np.ndarray:
    """Which document ``pairs`` are copies once their shingles' order is looked at.

    A pair of ``may_cover`` joins the kept ones when the coverage (:func:`token_coverage`)
    of its shorter document (fewer shingles; the first on a tie) reaches
    ``check.threshold``. Then every kept pair is dropped whose longest inner uncovered
    stretch exceeds ``check.max_inner_gap`` tokens in the shorter document, or in the
    longer one while the shorter one's coverage is below ``check.inside_coverage``.

    Args:
        pairs: ``(m, 2)`` document indices.
        set_rows: ``(m, 2)`` rows of the two documents in the flat shingle sets.
        set_values, set_offsets: sorted unique shingle sets, stored flat.
        keep: boolean mask of the pairs kept so far.
        may_cover: boolean mask of the pairs the coverage may keep.
        check: thresholds, shingle size, and where the shingle sequences come from.

    Returns:
        The boolean mask of the kept pairs.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    set_rows = np.asarray(set_rows, dtype=np.int64).reshape(-1, 2)
    may_cover = np.asarray(may_cover, dtype=bool) & (check.threshold is not None)
    keep = np.asarray(keep, dtype=bool)
    todo = np.flatnonzero(may_cover | (keep & (check.max_inner_gap is not None)))
    if not len(todo):
        return keep.copy()
    sequences = check.sequences_of(np.unique(pairs[todo]))
    rows = sequences.rows(pairs[todo])  # (len(todo), 2) rows of the two documents' sequences
    length = np.diff(sequences.offsets)[rows]
    short = (length[:, 1] < length[:, 0]).astype(np.int64)
    mine = np.arange(len(todo))
    sets_of = set_rows[todo]
    coverage, gap_short = token_coverage(rows[mine, short], sequences, sets_of[mine, 1 - short], set_values,
                                         set_offsets, check.shingle_size)
    out = keep.copy()
    if check.threshold is not None:
        out[todo] |= may_cover[todo] & (coverage >= check.threshold)
    if check.max_inner_gap is not None:
        out[todo] &= gap_short <= check.max_inner_gap
        # The longer document's stretches matter only for pairs still kept whose shorter
        # document is not almost wholly covered.
        longer = np.flatnonzero(out[todo] & (coverage < check.inside_coverage))
        if len(longer):
            _, gap_long = token_coverage(rows[longer, 1 - short[longer]], sequences, sets_of[longer, short[longer]],
                                         set_values, set_offsets, check.shingle_size)
            out[todo[longer]] &= gap_long <= check.max_inner_gap
    return out
