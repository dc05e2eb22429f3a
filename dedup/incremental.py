"""Stable cluster ids across runs.

Each run clusters the articles of its window afresh (new articles with the earlier ones),
then carries the earlier cluster ids over to the new groups, so ids never renumber:

- a group keeps the id of the **oldest** earlier cluster among its members; when a new
  article bridges two earlier clusters, the older id survives and the younger one is
  retired (recorded as merged into the survivor);
- an earlier cluster whose articles are now split over several groups keeps its id on the
  group holding most of them; the other groups take their next-oldest earlier id, or a
  new one;
- a group without earlier articles gets a new id (:func:`dedup.cluster.cluster_id`).

An earlier id is never given to a group holding none of that cluster's articles, and a
retired id is never reused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dedup.cluster import cluster_id

__all__ = ["CarriedIds", "carry_cluster_ids"]


@dataclass(frozen=True)
class CarriedIds:
    """Ids of the new groups, and the earlier ids retired by merges (old id -> survivor)."""

    ids: list[str]
    retired: dict[str, str] = field(default_factory=dict)


def carry_cluster_ids(
    groups: Sequence[Sequence[str]],
    previous: Mapping[str, str],
    created: Mapping[str, datetime],
    taken: frozenset[str] = frozenset(),
) -> CarriedIds:
    """Give every group of article ids a cluster id, reusing earlier ids.

    Args:
        groups: the new clustering, each group a sequence of article ids.
        previous: earlier assignment, article id -> cluster id (articles not in it are new).
        created: creation time of each earlier cluster id (older ids win merges).
        taken: ids that may not be issued again (retired earlier).

    Returns:
        :class:`CarriedIds` with one id per group, in the order of ``groups``.

    >>> from datetime import datetime
    >>> t = {"ev-old": datetime(2024, 1, 1), "ev-young": datetime(2024, 1, 2)}
    >>> carry_cluster_ids([["a", "b", "n"]], {"a": "ev-old", "b": "ev-young"}, t).ids
    ['ev-old']
    """
    overlap = [Counter(previous[a] for a in group if a in previous) for group in groups]
    def age(old: str) -> tuple[int, float]:  # ids without a known creation time rank as youngest
        when = created.get(old)
        return (0, when.timestamp()) if when is not None else (1, 0.0)

    candidates = sorted(
        (age(old), -count, old, g)
        for g, counts in enumerate(overlap)
        for old, count in counts.items()
    )
    ids: list[str | None] = [None] * len(groups)
    claimed: set[str] = set()
    for _, _, old, g in candidates:
        if ids[g] is None and old not in claimed:
            ids[g] = old
            claimed.add(old)
    used = set(claimed) | set(previous.values()) | set(taken)
    for g, group in enumerate(groups):
        if ids[g] is None:
            fresh = _fresh_id(group, used)
            ids[g] = fresh
            used.add(fresh)
    final = [i for i in ids if i is not None]
    retired: dict[str, str] = {}
    for old in sorted(set(previous.values()) - claimed):
        holders = Counter(final[g] for g, counts in enumerate(overlap) for _ in range(counts.get(old, 0)))
        if holders:
            retired[old] = sorted(holders.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return CarriedIds(ids=final, retired=retired)


def _fresh_id(group: Sequence[str], used: set[str]) -> str:
    base = cluster_id(group)
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
