"""Event clustering: stories first, then the events inside each story.

Stage one (:func:`find_stories`) groups the batch into stories: average linkage on the
weighted TF-IDF similarity, IDF over the whole batch. Two events of the same kind (two
earthquakes, two rounds of talks) share most of their vocabulary and often land in one
story. Stage two (:func:`split_story`) re-weighs each story's articles with IDF computed
inside the story, so the words all of them share weigh nothing and what tells the events
apart (other names, other places) decides; a sub-event with too little support (fewer than
``min_event_size`` articles) joins its nearest sibling when it is close enough, unless
the sibling agrees on a place it does not state; a story of fewer than three articles is
not split. Last, :func:`split_by_place` separates members that state another place than
the one the rest of their cluster agrees on.

Both stages use :func:`average_linkage`. Up to 1,000 articles (ECB+, every story of the
benchmark corpora) it runs exactly on all pairs. Beyond that it runs on a bounded
neighbour graph: average linkage at threshold ``t`` never joins two groups unless some
pair across them has similarity of at least ``t`` (a mean cannot exceed its maximum), so
the connected components of the graph of pairs ``>= t`` bound the clusters from above.
:func:`link_pairs` keeps, of those pairs, each article's 15 strongest links to later
articles (at most ``15 n`` pairs, never an n x n matrix), the corpus is split into the
components of that graph, and exact average linkage runs inside each one on its dense
similarities. A component too large for that is split first by raising its edge
threshold. Where an article has more than 15 later neighbours above ``t`` (the generated
benchmark corpora, whose articles share sentences), weaker links are dropped, and groups
joined only through them come out apart (see ``docs/benchmarks.md``).

Stage two re-weighs runs of whole stories at once (:func:`dedup.features.weigh_within`),
each run by itself, so its memory is bounded by the run, and runs can go to worker processes.

Publication times, where known, damp the similarity of articles published far apart
(:func:`time_factor`); the window is wide because follow-up coverage of one event runs
for weeks.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import linkage
from scipy.sparse.csgraph import connected_components

from dedup.config import ClusterConfig
from dedup.features import FeatureCounts, used_columns, weigh_split, weigh_within
from dedup.minhash import in_order

__all__ = [
    "SplitRows",
    "average_linkage",
    "cluster_events",
    "cluster_id",
    "find_stories",
    "link_pairs",
    "split_story",
    "time_factor",
]

_ROW_BLOCK = 2048
# Stage two runs on runs of whole stories of about this many articles (see cluster_events).
_STORY_CHUNK = 10_000
_MAX_COMPONENT = 4000
# Up to this many rows, average linkage runs on all pairs at once (no graph is needed).
_DENSE_ROWS = 1000
# Similarities of up to this many rows come from dense rows over the columns they use.
_DENSE_SIMILARITY_ROWS = 32


def time_factor(published: np.ndarray, i: np.ndarray, j: np.ndarray, max_days_apart: float) -> np.ndarray:
    """Similarity multiplier for article pairs from their publication times (epoch seconds,
    NaN when unknown): 1 within ``max_days_apart`` or when a date is missing, decaying
    exponentially beyond it."""
    gap = np.abs(published[i] - published[j]) / 86400.0
    excess = np.nan_to_num(gap - max_days_apart, nan=0.0).clip(min=0.0)
    return np.exp(-excess / max(max_days_apart, 1e-9))


# Candidate generation (see link_pairs). Only terms found in at most this many rows propose
# pairs: the cost of proposing is the number of row pairs sharing a proposing term, which
# this bounds per row whatever the batch size. What the other terms add to a pair is added
# exactly afterwards.
_PROPOSING_DF = 200
# Each row keeps its strongest proposals (by the proposing terms) and, of those reaching the
# threshold, its strongest links: the graph has at most this many links per row.
_NEIGHBOURS = 15
# Rounding can put a float32 dot product of unit rows slightly above 1.
_MAX_SIMILARITY = 1.001
# Pairs whose dot products are completed together (bounds the rows gathered at once).
_PAIR_ROWS = 8192


def _date_window(threshold: float, max_days_apart: float) -> float:
    """Largest publication gap (days) at which a similarity of at most 1 still reaches
    ``threshold`` after :func:`time_factor`: beyond it, no pair needs to be compared."""
    return max_days_apart * (1.0 + np.log(_MAX_SIMILARITY / threshold))


def _split_columns(matrix: sp.csr_matrix, cap: int) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    """``matrix`` as its rare columns (document frequency <= ``cap``) and its common ones
    (None when there are none); the two parts sum to ``matrix`` (zero entries dropped).
    Each part is made at its own size, without a full-size copy in between."""
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    common = (df > cap)[matrix.indices]
    if not common.any():
        return matrix, None

    def part(mask: np.ndarray) -> sp.csr_matrix:
        mask &= matrix.data != 0
        kept = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        return sp.csr_matrix((matrix.data[mask], matrix.indices[mask], kept[matrix.indptr]), shape=matrix.shape)

    return part(~common), part(common)


@dataclass(frozen=True)
class SplitRows:
    """Sparse rows kept as two matrices of disjoint columns that sum to them: the columns
    found in at most ``_PROPOSING_DF`` rows (which propose pairs in :func:`link_pairs`) and
    the others (None when there are none). Made by :func:`dedup.features.weigh_split`, so
    that the whole matrix is never held next to its two parts."""

    rare: sp.csr_matrix
    common: sp.csr_matrix | None

    @property
    def shape(self) -> tuple[int, int]:
        return self.rare.shape  # type: ignore[no-any-return]

    def __getitem__(self, rows: Any) -> sp.csr_matrix:
        """The whole rows ``rows`` (sorted columns, as one matrix would hold them)."""
        part = self.rare[rows]
        return part if self.common is None else (part + self.common[rows]).tocsr()


def _pair_dots(matrix: sp.csr_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Dot products of the rows ``i[k]`` and ``j[k]`` (no pair matrix is formed).

    Runs of ``_PAIR_ROWS`` pairs gather their two rows each and multiply them entry by
    entry (a merge of sorted columns); each pair's products are summed in float64, in
    column order.
    """
    out = np.empty(len(i), dtype=np.float32)
    for start in range(0, len(i), _PAIR_ROWS):
        left, right = i[start : start + _PAIR_ROWS], j[start : start + _PAIR_ROWS]
        products = matrix[left].multiply(matrix[right]).tocsr()
        pair = np.repeat(np.arange(len(left)), np.diff(products.indptr))
        out[start : start + len(left)] = np.bincount(pair, weights=products.data, minlength=len(left))
    return out


def _strongest_per_row(rows: np.ndarray, values: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Positions of the ``k`` largest values of each row (``rows`` sorted ascending); of
    values tied with the ``k``-th largest, the earlier positions are kept."""
    bounds = np.searchsorted(rows, np.arange(n_rows + 1))
    keep = np.ones(len(rows), dtype=bool)
    for r in np.flatnonzero(np.diff(bounds) > k):
        segment = values[bounds[r] : bounds[r + 1]]
        kth = np.partition(segment, len(segment) - k)[len(segment) - k]
        chosen = segment > kth
        tied = np.flatnonzero(segment == kth)
        chosen[tied[: k - int(np.count_nonzero(chosen))]] = True
        keep[bounds[r] : bounds[r + 1]] = chosen
    return np.flatnonzero(keep)


def _block_candidates(
    block: sp.csr_matrix, window_t: sp.csr_matrix
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local (row, column, dot) of the nonzero entries of ``block @ window_t``, by row."""
    product = (block @ window_t).tocsr()
    rows = np.repeat(np.arange(product.shape[0], dtype=np.int64), np.diff(product.indptr))
    return rows, product.indices.astype(np.int64), product.data


def link_pairs(
    matrix: sp.csr_matrix | SplitRows,
    threshold: float,
    published: np.ndarray,
    max_days_apart: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of a bounded neighbour graph whose (time-adjusted) similarity is at
    least ``threshold``, with that similarity (exact for every pair returned).

    Never forms the ``n x n`` product, and returns at most ``15 n`` pairs whatever the batch
    holds. Rows are sorted by publication time, and each block of rows is compared only
    with the rows published after it within :func:`_date_window` (exact: a pair further
    apart cannot reach the threshold); rows without a date are compared with every row.
    Pairs are proposed by the terms found in at most 200 rows: each row keeps its 15
    strongest proposals among the rows after it, their similarity is completed exactly from
    the other terms, and those reaching the threshold are linked. When every term is that
    rare and no row has more than 15 later rows reaching the threshold before the time
    damping, the result is every pair above the threshold; otherwise it is the strong part
    of it (see ``docs/benchmarks.md`` for what that changes).

    Args:
        matrix: ``(n, d)`` sparse rows whose dot products are similarities in [0, 1], whole
            or already split (:class:`SplitRows`).
        threshold: least time-adjusted similarity of a returned pair.
        published: ``(n,)`` publication times in epoch seconds, NaN when unknown.
        max_days_apart: publication gap beyond which similarity decays (:func:`time_factor`).

    Returns:
        ``(i, j, similarity)``: int64, int64 and float32 arrays of equal length.
    """
    n = matrix.shape[0]
    order = np.argsort(published, kind="stable")  # NaN (no date) last
    dates = published[order]
    dated = int(np.count_nonzero(~np.isnan(dates)))
    # The rare part in date order (it is sliced by blocks of rows); the common part stays in
    # row order and is read through ``order``: no sorted copy of the whole matrix is made.
    rare, common = (matrix.rare, matrix.common) if isinstance(matrix, SplitRows) else (
        _split_columns(matrix.tocsr(), _PROPOSING_DF))
    rare = rare[order]
    rare_t = rare.T.tocsr() if dated < n else None  # every row, for the rows without a date
    reach = _date_window(threshold, max_days_apart) * 86400.0

    def compare(start: int, stop: int, columns: sp.csr_matrix, lo: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # rows start..stop-1 against the sorted positions lo.. (columns: their transposed rows)
        r, c, p = _block_candidates(rare[start:stop], columns)
        r += start
        c += lo
        keep = (c > r) | (c < dated) & (r >= dated)
        r, c, p = r[keep], c[keep], p[keep]
        keep = _strongest_per_row(r - start, p, stop - start, _NEIGHBOURS)
        r, c, p = r[keep], c[keep], p[keep]
        if common is not None:
            p = p + _pair_dots(common, order[r], order[c])
        s = p * time_factor(dates, r, c, max_days_apart)
        keep = s >= threshold
        return r[keep], c[keep], s[keep].astype(np.float32)

    def dated_block(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stop = min(start + _ROW_BLOCK, dated)
        hi = int(np.searchsorted(dates[:dated], dates[stop - 1] + reach, side="right"))
        # The window's own rows, transposed: slicing columns of the transposed whole would
        # read all of it for every block.
        return compare(start, stop, rare[start:hi].T.tocsr(), start)

    def undated_block(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert rare_t is not None
        return compare(start, min(start + _ROW_BLOCK, n), rare_t, 0)

    # Blocks are independent and spend their time in NumPy and SciPy calls that release the
    # interpreter lock: two threads share them, and the results are taken in block order.
    with ThreadPoolExecutor(max_workers=2) as threads:
        found = [
            *threads.map(dated_block, range(0, dated, _ROW_BLOCK)),
            *threads.map(undated_block, range(dated, n, _ROW_BLOCK)),
        ]
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float32)
    r, c, s = (np.concatenate(parts) for parts in zip(*found, strict=True))
    i, j = order[r], order[c]
    return np.minimum(i, j), np.maximum(i, j), s


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    graph = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _average_linkage(
    members: np.ndarray,
    matrix: sp.csr_matrix | SplitRows,
    published: np.ndarray,
    threshold: float,
    max_days_apart: float,
) -> np.ndarray:
    """Flat average-linkage labels of ``members`` (dense, exact)."""
    return _linkage_of(_similarities(matrix[members]), published[members], threshold, max_days_apart)


def _similarities(rows: sp.csr_matrix) -> np.ndarray:
    """The ``(m, m)`` float32 dot products of ``rows``: for a few rows, a product of dense
    rows over the columns they use (cheaper than a sparse product's setup), else sparse."""
    m = rows.shape[0]
    if m > _DENSE_SIMILARITY_ROWS:
        return np.asarray((rows @ rows.T).toarray(), dtype=np.float32)
    used, local = np.unique(rows.indices, return_inverse=True)
    dense = np.zeros((m, len(used)), dtype=np.float32)
    dense[np.repeat(np.arange(m), np.diff(rows.indptr)), local] = rows.data
    return dense @ dense.T


def _linkage_of(similarity: np.ndarray, published: np.ndarray, threshold: float, max_days_apart: float
                ) -> np.ndarray:
    """Flat average-linkage labels of the rows of a dense ``similarity`` matrix."""
    sim = similarity.astype(np.float64)
    if len(sim) < 2:
        return np.zeros(len(sim), dtype=np.int64)
    i, j = np.triu_indices(len(sim), k=1)
    condensed = sim[i, j] * time_factor(published, i, j, max_days_apart)
    distance = np.clip(1.0 - condensed, 0.0, 2.0)
    tree = linkage(distance, method="average")
    return _cut(tree, len(sim), 1.0 - threshold)


def _cut(tree: np.ndarray, n: int, height: float) -> np.ndarray:
    """Flat cluster labels of the ``n`` leaves of a linkage ``tree`` cut at ``height``: the
    clusters of ``fcluster(tree, height, criterion="distance")`` (a node joins its leaves
    when no merge below it is higher than ``height``), without its validation cost."""
    parent = np.arange(n)

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    highest = [0.0] * (2 * n - 1)
    leaf = list(range(n)) + [0] * (n - 1)  # a leaf under each node
    for step, (a, b, merged_at, _) in enumerate(tree.tolist()):
        node, a, b = n + step, int(a), int(b)
        highest[node] = max(merged_at, highest[a], highest[b])
        leaf[node] = leaf[a]
        if highest[node] <= height:  # then both children are whole clusters already
            parent[root(leaf[a])] = root(leaf[b])
    return np.array([root(k) for k in range(n)])


def average_linkage(
    matrix: sp.csr_matrix | SplitRows,
    published: np.ndarray,
    *,
    threshold: float,
    max_days_apart: float,
    max_component: int = _MAX_COMPONENT,
    pool: Executor | None = None,
) -> np.ndarray:
    """Cluster label (0..k-1) of each row of ``matrix``, in order of first appearance.

    Args:
        matrix: ``(n, d)`` sparse features whose dot products are similarities in [0, 1],
            whole or split (:class:`SplitRows`).
        published: ``(n,)`` publication times in epoch seconds, NaN when unknown.
        threshold: average-linkage similarity at which clusters stop merging.
        max_days_apart: publication gap beyond which similarity decays.
        max_component: largest component clustered exactly in one piece.
        pool: worker processes for the exact clustering of the components.
    """
    n = matrix.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if n <= _DENSE_ROWS:
        rows = matrix[np.arange(n)] if isinstance(matrix, SplitRows) else matrix
        return _relabel_by_first_member(_linkage_of(_similarities(rows), published, threshold, max_days_apart))
    i, j, s = link_pairs(matrix, threshold, published, max_days_apart)
    labels = np.full(n, -1, dtype=np.int64)
    next_label = 0
    exact: list[np.ndarray] = []  # components clustered exactly, once all are known
    pending = [(np.arange(n), i, j, s, threshold)]
    while pending:
        members, pi, pj, ps, edge_threshold = pending.pop()
        local = _components(len(members), pi, pj)
        order = np.argsort(local, kind="stable")
        bounds = np.flatnonzero(np.diff(local[order])) + 1
        for group in np.split(order, bounds):
            if len(group) == 1:
                labels[members[group[0]]] = next_label
                next_label += 1
                continue
            if len(group) > max_component:
                # Split an oversized component on its stronger links only (approximation).
                inside = np.zeros(len(members), dtype=bool)
                inside[group] = True
                position = np.full(len(members), -1, dtype=np.int64)
                position[group] = np.arange(len(group))
                stronger = edge_threshold + 0.05
                keep = inside[pi] & inside[pj] & (ps >= stronger)
                pending.append((members[group], position[pi[keep]], position[pj[keep]], ps[keep], stronger))
                continue
            exact.append(members[group])
    for rows, flat in zip(exact, _linkages(exact, matrix, published, threshold, max_days_apart, pool), strict=True):
        labels[rows] = next_label + flat  # flat labels are below len(rows): apart from every other label
        next_label += len(rows)
    return _relabel_by_first_member(labels)


def _linkages(
    components: list[np.ndarray],
    matrix: sp.csr_matrix | SplitRows,
    published: np.ndarray,
    threshold: float,
    max_days_apart: float,
    pool: Executor | None,
) -> Iterator[np.ndarray]:
    """Flat average-linkage labels of each of ``components`` (rows of ``matrix``), in order;
    with a ``pool``, runs of components of about ``_STORY_CHUNK`` rows go to its processes."""
    if pool is None:
        for rows in components:
            yield _average_linkage(rows, matrix, published, threshold, max_days_apart)
        return
    runs: list[list[np.ndarray]] = [[]]
    held = 0
    for rows in components:
        if held >= _STORY_CHUNK:
            runs.append([])
            held = 0
        runs[-1].append(rows)
        held += len(rows)
    arguments = (
        (matrix[np.concatenate(run)], [len(rows) for rows in run], np.concatenate([published[r] for r in run]),
         threshold, max_days_apart)
        for run in runs if run
    )
    for found in in_order(pool, _linkages_of_run, arguments, ahead=4):
        yield from found


def _linkages_of_run(rows: sp.csr_matrix, sizes: list[int], published: np.ndarray, threshold: float,
                     max_days_apart: float) -> list[np.ndarray]:
    """Flat average-linkage labels of consecutive groups of ``rows`` of ``sizes`` rows each."""
    bounds = np.cumsum([0, *sizes]).tolist()
    return [_linkage_of(_similarities(rows[a:b]), published[a:b], threshold, max_days_apart)
            for a, b in itertools.pairwise(bounds)]


def _relabel_by_first_member(labels: np.ndarray) -> np.ndarray:
    """Renumber arbitrary labels 0..k-1 in order of each label's first row."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def find_stories(
    counts: FeatureCounts, published: np.ndarray, config: ClusterConfig, *, pool: Executor | None = None
) -> np.ndarray:
    """Stage one: story label of every article (batch-wide IDF)."""
    matrix = SplitRows(*weigh_split(counts, config.story_weights, max_df=_PROPOSING_DF))
    return average_linkage(
        matrix, published, threshold=config.story_threshold, max_days_apart=config.max_days_apart, pool=pool
    )


def _place_conflict(places: list[set[str]], small: np.ndarray, group: np.ndarray, share: float) -> bool:
    """Whether ``group`` agrees on a place (at least ``share`` of its members that state a
    place, and two or more) that none of ``small``'s members states, while they state another."""
    stated = [places[i] for i in group if places[i]]
    counts = Counter(p for ps in stated for p in ps)
    if len(stated) < 2 or not counts:
        return False
    place, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if count < max(2, share * len(stated)):
        return False
    theirs = set().union(*(places[i] for i in small))
    return bool(theirs) and place not in theirs


def _absorb_small(
    matrix: sp.csr_matrix,
    labels: np.ndarray,
    min_size: int,
    threshold: float,
    places: list[set[str]],
    place_share: float,
    similarity: np.ndarray | None = None,
) -> np.ndarray:
    """Let sub-events smaller than ``min_size`` join their most similar sibling, smallest first,
    when the mean similarity reaches ``threshold`` and the sibling does not agree on a place
    the small one does not state; others stay events of their own. ``similarity``: the
    rows' dot products when already known."""
    labels = labels.copy()
    kept: set[int] = set()
    while True:
        ids, sizes = np.unique(labels, return_counts=True)
        small = sorted((int(s), int(i)) for i, s in zip(ids, sizes, strict=True) if s < min_size and i not in kept)
        if len(ids) < 2 or not small:
            return labels
        label = small[0][1]
        rows = np.flatnonzero(labels == label)
        sims = similarity[rows] if similarity is not None else (matrix[rows] @ matrix.T).toarray()
        scores = {int(o): float(sims[:, labels == o].mean()) for o in ids if o != label}
        best = max(scores, key=lambda o: (scores[o], -o))
        sibling = np.flatnonzero(labels == best)
        if scores[best] >= threshold and not (place_share and _place_conflict(places, rows, sibling, place_share)):
            labels[rows] = best
        else:
            kept.add(label)


def split_story(matrix: sp.csr_matrix, published: np.ndarray, places: list[set[str]], config: ClusterConfig
                ) -> np.ndarray:
    """Stage two: event labels (0..k-1) of the articles of one story of three or more,
    whose rows ``matrix`` are weighed with story-local IDF (:func:`dedup.features.weigh_within`),
    with their publication times and lead places."""
    similarity = None
    if matrix.shape[0] <= _DENSE_ROWS:
        similarity = _similarities(matrix)
        labels = _linkage_of(similarity, published, config.event_threshold, config.max_days_apart)
    else:
        labels = average_linkage(
            matrix, published, threshold=config.event_threshold, max_days_apart=config.max_days_apart
        )
    labels = _absorb_small(
        matrix, labels, config.min_event_size, config.absorb_threshold, places, config.absorb_place_share, similarity
    )
    return _relabel_by_first_member(labels)


def split_by_place(labels: np.ndarray, places: Sequence[str | None], share: float, min_size: int) -> np.ndarray:
    """Split off the members of an event that state another place than the one it agrees on.

    An event reported from one place is one event: when at least ``share`` of a cluster's
    members that state a primary place (two or more, in a cluster of ``min_size`` or more)
    agree on it, the members stating a place that none of the others states become an
    event of their own, one per such place.
    """
    labels = labels.copy()
    next_label = int(labels.max()) + 1 if len(labels) else 0
    order = np.argsort(labels, kind="stable")  # each label's members, ascending, one run each
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for members in map(np.ndarray.tolist, np.split(order, bounds) if len(order) else []):
        if len(members) < min_size:
            continue
        stated = [places[i] for i in members if places[i]]
        if len(stated) < 3:
            continue
        place, count = min(Counter(stated).items(), key=lambda kv: (-kv[1], kv[0]))
        if count < max(2, share * len(stated)):
            continue
        others: dict[str, list[int]] = {}
        for i in members:
            if places[i] and places[i] != place:
                others.setdefault(str(places[i]), []).append(i)
        for _, group in sorted(others.items()):
            labels[group] = next_label
            next_label += 1
    return labels


def cluster_events(
    counts: FeatureCounts, published: np.ndarray, config: ClusterConfig, *, pool: Executor | None = None
) -> np.ndarray:
    """Event label (0..k-1, in order of first member) of every article.

    Stage two runs on runs of whole stories of about ``_STORY_CHUNK`` articles, one after
    another or, with a ``pool``, in its processes (as do the exact linkages of stage one's
    components): a story's events depend on its own articles only, so the labels are the
    same either way.

    Args:
        counts: feature counts of the articles (:func:`dedup.features.count_features`).
        published: publication times in epoch seconds, NaN when unknown.
        config: thresholds and weights of both stages.
        pool: worker processes for stage one's exact linkages and for stage two.
    """
    if counts.n == 0:
        return np.empty(0, dtype=np.int64)
    stories = find_stories(counts, published, config, pool=pool)
    order = np.argsort(stories, kind="stable")  # each story's rows, ascending, one run each
    runs: list[tuple[int, int]] = []
    first = 0
    for start in (np.flatnonzero(np.diff(stories[order])) + 1).tolist():  # where each later story starts
        if start - first >= _STORY_CHUNK:
            runs.append((first, start))
            first = start
    runs.append((first, len(order)))
    parts = ((_StoryRows.take(counts, order[a:b]), stories[order[a:b]], published[order[a:b]], config)
             for a, b in runs)
    found = in_order(pool, _split_stories, parts, ahead=4) if pool is not None and len(runs) > 1 else (
        itertools.starmap(_split_stories, parts))
    labels = np.empty(counts.n, dtype=np.int64)
    offset = 0
    for (a, b), events in zip(runs, found, strict=True):
        labels[order[a:b]] = events + offset
        offset += int(events.max()) + 1
    return _relabel_by_first_member(labels)


@dataclass(frozen=True)
class _StoryRows:
    """What stage two needs of some articles, as sent to a worker: the count blocks over the
    columns these rows use, without their terms (weights and similarities depend on the
    counts alone), and the terms of the lead places block (the last) and each article's
    primary place, which the place rules compare."""

    blocks: tuple[sp.csr_matrix, ...]
    place_terms: np.ndarray
    primary_places: list[str | None]

    @classmethod
    def take(cls, counts: FeatureCounts, rows: np.ndarray) -> _StoryRows:
        """The articles ``rows`` of ``counts``, in that order."""
        blocks, used = zip(*(used_columns(block[rows]) for block in counts.blocks), strict=True)
        primary = [counts.primary_places[r] for r in rows.tolist()] if counts.primary_places else []
        return cls(tuple(blocks), counts.vocabularies[-1][used[-1]], primary)

    @property
    def n(self) -> int:
        return int(self.blocks[0].shape[0])

    def places(self, start: int, stop: int) -> list[set[str]]:
        """The lead places (with the dateline place) of each of the rows ``start..stop-1``."""
        block, terms = self.blocks[-1], self.place_terms
        return [set(terms[block.indices[block.indptr[i] : block.indptr[i + 1]]]) for i in range(start, stop)]


def _split_stories(counts: _StoryRows, stories: np.ndarray, published: np.ndarray, config: ClusterConfig
                   ) -> np.ndarray:
    """Stage two, then :func:`split_by_place`, of the articles of whole stories (``stories``:
    their story labels, each story's rows together): event labels 0..k-1."""
    weighed = weigh_within(counts.blocks, np.unique(stories, return_inverse=True)[1], config.event_weights,
                           offset=config.event_idf_offset)
    labels = np.empty(counts.n, dtype=np.int64)
    offset = 0
    bounds = [0, *(np.flatnonzero(np.diff(stories)) + 1).tolist(), len(stories)]
    for start, stop in itertools.pairwise(bounds):
        if stop - start < 3:
            events = np.zeros(stop - start, dtype=np.int64)
        else:
            events = split_story(weighed[start:stop], published[start:stop], counts.places(start, stop), config)
        labels[start:stop] = events + offset
        offset += int(events.max()) + 1
    if config.place_split_share:
        labels = split_by_place(labels, counts.primary_places, config.place_split_share, config.place_split_min_size)
    return _relabel_by_first_member(labels)


def cluster_id(member_ids: Sequence[str]) -> str:
    """Stable id of a cluster: a hash of its smallest member id (``ev-`` + 12 hex digits)."""
    return "ev-" + hashlib.sha1(min(member_ids).encode("utf-8")).hexdigest()[:12]
