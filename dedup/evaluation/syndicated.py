"""Find real syndicated copies in a labelled corpus by exact word n-gram overlap.

News corpora hold the same wire story published by several outlets. Those pairs are the
ground truth for near-duplicate detection that needs no synthetic edits: the overlap of
their word 5-grams is far above that of two independent reports of one event.

This is the exact reference, not a fast detector: every pair sharing enough shingles is
checked with the exact Jaccard similarity. A prefix filter keeps it fast: two sets with
Jaccard >= t share at least one shingle among the ``|A| - ceil(t * |A|) + 1`` rarest shingles
of each (Chaudhuri et al. 2006), so only pairs meeting there are compared.

Example:
    >>> story = "the storm closed every road in the valley on monday night and schools stayed shut"
    >>> find_copies([("a", story), ("b", "Breaking: " + story), ("c", "an unrelated text about tennis")])
    [('a', 'b', 0.9166666666666666)]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

__all__ = ["copy_groups", "find_copies", "jaccard", "shingles", "words"]

_WORD = re.compile(r"[^\W_]+")
_APOSTROPHES = re.compile(r"['’]")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation is dropped and ``don't`` stays one word.

    Example:
        >>> words("Don't panic -- it's 5:30 P.M.")
        ['dont', 'panic', 'its', '5', '30', 'p', 'm']
    """
    return _WORD.findall(_APOSTROPHES.sub("", text.lower()))


def shingles(text: str, n: int = 5) -> frozenset[tuple[str, ...]]:
    """Set of word ``n``-grams of a text; a text shorter than ``n`` words is one shingle.

    Raises:
        ValueError: ``n`` is below 1.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    tokens = words(text)
    if len(tokens) < n:
        return frozenset([tuple(tokens)]) if tokens else frozenset()
    return frozenset(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def jaccard(a: frozenset[Hashable], b: frozenset[Hashable]) -> float:
    """Jaccard similarity of two sets; 0.0 when both are empty."""
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def find_copies(
    articles: Sequence[tuple[str, str]], *, n: int = 5, threshold: float = 0.5
) -> list[tuple[str, str, float]]:
    """All pairs of articles whose word ``n``-gram Jaccard is at least ``threshold``.

    Args:
        articles: ``(id, text)`` pairs; ids must be unique.
        n: Shingle length in words.
        threshold: Minimum Jaccard similarity, in (0, 1].

    Returns:
        ``(id_a, id_b, jaccard)`` with ``id_a < id_b``, sorted by ``(id_a, id_b)``.

    Raises:
        ValueError: Repeated ids, ``n < 1`` or ``threshold`` outside (0, 1].
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    ids = [article_id for article_id, _ in articles]
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, count in Counter(ids).items() if count > 1)[:5]
        raise ValueError(f"article ids must be unique; repeated: {repeated}")
    sets = [shingles(text, n) for _, text in articles]
    pairs = []
    for i, j in _candidate_pairs(sets, threshold):
        similarity = jaccard(sets[i], sets[j])
        if similarity >= threshold:
            a, b = sorted((ids[i], ids[j]))
            pairs.append((a, b, similarity))
    return sorted(pairs)


def _candidate_pairs(sets: Sequence[frozenset[tuple[str, ...]]], threshold: float) -> set[tuple[int, int]]:
    """Index pairs that share a shingle within both prefixes (rarest shingles first)."""
    frequency = Counter(s for shingle_set in sets for s in shingle_set)
    index: dict[tuple[str, ...], list[int]] = {}
    candidates: set[tuple[int, int]] = set()
    for doc, shingle_set in enumerate(sets):
        ordered = sorted(shingle_set, key=lambda s: (frequency[s], s))
        # Float products such as 0.3 * 10 = 3.0000000000000004 must not round the overlap
        # bound up (that would shorten the prefix and lose pairs); a longer prefix is safe.
        prefix = len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1
        for shingle in ordered[:prefix]:
            postings = index.setdefault(shingle, [])
            candidates.update((other, doc) for other in postings)
            postings.append(doc)
    return candidates


def copy_groups(pairs: Iterable[tuple[str, str, float]], ids: Sequence[str]) -> dict[str, str]:
    """Group ids connected by copy pairs (connected components).

    Args:
        pairs: ``(id_a, id_b, similarity)`` as returned by :func:`find_copies`.
        ids: Every id; ids in no pair form groups of their own.

    Returns:
        Id -> its group, named after the group's smallest id.

    Raises:
        ValueError: A pair names an id that is not in ``ids``.

    Example:
        >>> copy_groups([("b", "c", 0.9), ("a", "c", 0.8)], ["a", "b", "c", "d"])
        {'a': 'a', 'b': 'a', 'c': 'a', 'd': 'd'}
    """
    parent = {i: i for i in ids}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees shallow
            x = parent[x]
        return x

    for a, b, _ in pairs:
        for x in (a, b):
            if x not in parent:
                raise ValueError(f"pair member {x!r} is not among the ids given")
        ra, rb = root(a), root(b)
        if ra != rb:
            # The smaller id becomes the root, so each group is named after its smallest id.
            parent[max(ra, rb)] = min(ra, rb)
    return {i: root(i) for i in ids}
