"""Per-cluster description: representative, headline, extractive summary, terms and sources.

The summary is extractive and lead-biased, as a wire editor would write it: candidate
sentences are the first sentences of the members closest to the cluster's term centroid
(``SummaryConfig.source_articles`` of them), scored by closeness to the centroid, by
position, and by naming the cluster's main actors and place; sentences
are picked greedily while they add something new (maximal marginal relevance), then put in
reading order (the representative's first).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from dedup.config import SummaryConfig
from dedup.features import compact_columns, flatten_groups
from dedup.text import count_words, first_sentences, tokenize

__all__ = [
    "ClusterSummary",
    "SummaryArticles",
    "SummarySource",
    "summarize_cluster",
    "summarize_clusters",
]

_CANDIDATES_PER_ARTICLE = 8
_MIN_WORDS, _MAX_WORDS = 8, 60
_CENTROID_CLUSTERS = 2_000  # clusters whose centroids are computed together
# A sentence is unfinished when it opens in lower case or with an opening mark, or does not
# close with a full stop, question or exclamation mark, closing quote or bracket.
_UNFINISHED_START = frozenset("abcdefghijklmnopqrstuvwxyz\"'(")
_FINISHED_END = frozenset(".!?\"')]。！」』）")
_POSSESSIVE = ("'s", "\u2019s")  # folded off a name ("NATO's" is shown as "NATO")


@dataclass(frozen=True)
class ClusterSummary:
    """What the clusters table says about one cluster."""

    representative: int
    headline: str
    sentences: list[str]
    top_terms: list[str]
    entities: list[str]
    places: list[str]
    sources: list[str]
    first_published: datetime | None
    last_published: datetime | None
    cohesion: float


def _sentence_ok(sentence: str) -> bool:
    n = count_words(sentence)
    return _MIN_WORDS <= n <= _MAX_WORDS and not _is_unfinished(sentence) and not any(q in sentence for q in "?？")


def _is_unfinished(sentence: str) -> bool:
    return bool(sentence) and (sentence[0] in _UNFINISHED_START or sentence[-1] not in _FINISHED_END)


@lru_cache(maxsize=8192)
def _name_pattern(key: str) -> re.Pattern[str]:
    """The words of ``key`` as whole words, any case, any spacing between them."""
    return re.compile(r"\b" + r"\s+".join(map(re.escape, key.split())) + r"\b", re.IGNORECASE)


def _is_word_char(text: str, at: int) -> bool:
    """Whether ``text[at]`` exists and is a word character (as ``\\w`` matches)."""
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")


def _match_words(text: str, lowered: str, start: int, words: Sequence[str]) -> int:
    """Where :func:`_name_pattern` of ``words`` matching at ``start`` of ``text`` would end,
    or -1 when it does not match there; the words are compared with ``lowered`` (see
    :func:`_lowered`), spaces and word boundaries (``\\b``) are those of ``text``."""
    if _is_word_char(text, start - 1) == _is_word_char(text, start):
        return -1
    at = start + len(words[0])  # the caller found the first word at ``start``
    for word in words[1:]:
        spaced = at
        while spaced < len(text) and text[spaced].isspace():
            spaced += 1
        if spaced == at or not lowered.startswith(word, spaced):
            return -1
        at = spaced + len(word)
    return at if _is_word_char(text, at - 1) != _is_word_char(text, at) else -1


# The only characters besides ASCII letters that ignore-case matching takes for an ASCII
# letter and that lower-casing leaves as they are (dotless i and long s; the Kelvin sign
# lower-cases to "k", and capital I with dot above to two characters).
_FOLDS_TO_ASCII = ("\u0131", "\u017f")


def _lowered(text: str) -> str | None:
    """``text.lower()`` when it holds an ASCII word exactly where ``text`` holds it in any
    case (as :func:`_name_pattern` matches): when lower-casing keeps every character one
    character and no character matches an ASCII letter only when case is ignored. Else None."""
    lowered = text.lower()
    if len(lowered) != len(text) or (not text.isascii() and any(c in text for c in _FOLDS_TO_ASCII)):
        return None
    return lowered


def _find_name(key: str, text: str, lowered: str | None) -> str | None:
    """The first place ``text`` writes the words of ``key`` (lower case) in any case, as
    written, or None: what :func:`_name_pattern` finds. ``lowered`` is :func:`_lowered`
    of ``text``.

    For an ASCII ``key``, any-case matching is exact matching in the lowered text (same
    positions, and no other character takes an ASCII letter's place), which is tried only
    where the first word occurs, without building a pattern.
    """
    words = key.split()
    if lowered is not None and key.isascii() and words:
        start = lowered.find(words[0])
        while start >= 0:
            end = _match_words(text, lowered, start, words)
            if end >= 0:
                return text[start:end]
            start = lowered.find(words[0], start + 1)
        return None
    match = _name_pattern(key).search(text)
    return match.group() if match else None


def _display_names(names: Sequence[str], texts: Sequence[str], limit: int) -> list[str]:
    """Names as the articles write them ("NATO", not "Nato"), possessives folded, no repeats.

    A name is looked for in the texts joined by NUL characters, in one search: no name
    matches across a NUL (it is neither space nor word character), so the first match in
    the joined text is the first match of the first text that holds one.
    """
    shown: list[str] = []
    seen: set[str] = set()
    joined = "\0".join(texts)
    lowered = _lowered(joined)
    for name in names:
        key = name.lower()
        if key.endswith(_POSSESSIVE):
            key = key[:-2]
        if key in seen:
            continue
        seen.add(key)
        shown.append(_find_name(key, joined, lowered) or name)
        if len(shown) == limit:
            break
    return shown


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass(frozen=True)
class _Centroid:
    """A cluster's term centroid (the mean of its members' body rows) and how close each
    member is to it."""

    #: The centroid's terms (vocabulary columns), strongest first; ties: lower column first.
    terms: np.ndarray
    #: Their centroid weights, in the same order.
    weights: np.ndarray
    #: Each member's cosine similarity to the centroid, in member order.
    closeness: np.ndarray


def _centroids(clusters: Sequence[Sequence[int]], body: sp.csr_matrix) -> list[_Centroid]:
    """The :class:`_Centroid` of every cluster (rows of ``body``), computed together.

    Each centroid holds only its cluster's own terms: a dense vector over the whole batch
    vocabulary per cluster would cost clusters x vocabulary. Sums run in float64, member
    by member, so a cluster's centroid is the same whichever clusters it is computed with.
    """
    k = len(clusters)
    if k == 0:
        return []
    sizes, rows, owner = flatten_groups(clusters)
    if sizes.min() == 0:
        raise ValueError("a cluster without members has no centroid")
    members = body[rows].astype(np.float64)
    averaging = sp.csr_matrix((1.0 / sizes[owner], (owner, np.arange(len(rows)))), shape=(k, len(rows)))
    mean = (averaging @ members).tocsr()
    mean.sort_indices()
    per_term_owner = np.repeat(np.arange(k), np.diff(mean.indptr))
    norms = np.sqrt(np.bincount(per_term_owner, weights=mean.data**2, minlength=k))
    dots = np.asarray(members.multiply(mean[owner]).sum(axis=1)).ravel()
    scale = np.divide(1.0, norms, out=np.zeros(k), where=norms > 0)
    closeness = dots * scale[owner]
    # Each cluster's terms by weight, ties by column (the order they have within a row): a
    # stable sort of each cluster's own terms (sorting all clusters' terms together costs more).
    out = []
    bounds, ends = mean.indptr.tolist(), np.cumsum(sizes).tolist()
    for c in range(k):
        weights, terms = mean.data[bounds[c] : bounds[c + 1]], mean.indices[bounds[c] : bounds[c + 1]]
        ranked = np.argsort(-weights, kind="stable")
        out.append(_Centroid(terms[ranked], weights[ranked], closeness[ends[c] - int(sizes[c]) : ends[c]]))
    return out


def summarize_cluster(
    members: Sequence[int],
    articles: SummaryArticles,
    entity_names: list[str],
    settings: SummaryConfig,
) -> ClusterSummary:
    """Describe one cluster of canonical articles.

    Args:
        members: row indices of the cluster's canonical articles in ``articles``.
        articles: the fields of all articles, with their L2-normalised body TF-IDF rows.
        entity_names: the cluster's entity names, most mentioned first.
        settings: summary length bounds (a cluster whose articles hold fewer usable
            sentences gets fewer), terms shown and redundancy.
    """
    return _summarize(members, _centroids([members], articles.body)[0], articles, entity_names, settings)


def _summarize(
    members: Sequence[int],
    centroid: _Centroid,
    articles: SummaryArticles,
    entity_names: list[str],
    settings: SummaryConfig,
    positions: Sequence[int] | np.ndarray | None = None,
) -> ClusterSummary:
    """:func:`summarize_cluster` with the cluster's centroid already computed; the
    representative is given as its item of ``positions`` when given."""
    titles, texts, sources = articles.titles, articles.texts, articles.sources
    datelines, published, article_ids = articles.datelines, articles.published, articles.article_ids
    vocabulary = articles.vocabulary
    min_sentences, max_sentences = settings.min_sentences, settings.max_sentences
    top_terms, redundancy = settings.top_terms, settings.redundancy
    closeness = centroid.closeness
    order = sorted(range(len(members)), key=lambda k: (-round(float(closeness[k]), 6), article_ids[members[k]]))
    representative = members[order[0]]
    cohesion = float(closeness.sum()) / len(closeness) if len(members) else 0.0

    weights = dict(zip(vocabulary[centroid.terms[:200]].tolist(), centroid.weights[:200].tolist(), strict=True))
    key_names = [e.lower() for e in entity_names[:6]]
    place_counts = Counter(d for d in (datelines[m] for m in members) if d)
    places = [p for p, _ in place_counts.most_common(3)]
    place_keys = [p.lower() for p in places]
    candidates: list[tuple[float, int, int, str, set[str]]] = []
    for rank, k in enumerate(order[: settings.source_articles]):
        m = members[k]
        for position, sentence in enumerate(first_sentences(texts[m], _CANDIDATES_PER_ARTICLE)):
            if not _sentence_ok(sentence):
                continue
            words = set(tokenize(sentence)) - ENGLISH_STOP_WORDS
            lowered = sentence.lower()
            # Summed in sorted order: a set's order changes with the string hash seed, and so
            # would the last bits of the sum, and with them the choice between near-ties.
            relevance = sum(map(weights.__getitem__, sorted(words & weights.keys()))) / math.sqrt(len(words) + 1)
            mentions = sum([name in lowered for name in key_names]) + 2 * sum([p in lowered for p in place_keys])
            score = relevance * (1.0 + 0.15 * mentions) / (1.0 + 0.25 * position) / (1.0 + 0.1 * rank)
            candidates.append((score, rank, position, sentence, words))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    limit = min(max_sentences, max(min_sentences, 2 + len(members)))
    chosen: list[tuple[float, int, int, str, set[str]]] = []
    for candidate in candidates:
        if len(chosen) >= limit:
            break
        if all(_jaccard(candidate[4], c[4]) < redundancy for c in chosen):
            chosen.append(candidate)
    chosen.sort(key=lambda c: (c[1], c[2]))

    title = titles[representative]
    headline = title if title else (chosen[0][3] if chosen else texts[representative][:120])
    terms = [str(t) for t in vocabulary[centroid.terms[:top_terms]]]
    dates = sorted(d for d in (published[m] for m in members) if d is not None)
    return ClusterSummary(
        representative=representative if positions is None else int(positions[representative]),
        headline=headline,
        sentences=[c[3] for c in chosen],
        top_terms=terms,
        entities=_display_names(entity_names, [texts[m] for m in members[:10]], 10),
        places=places,
        sources=sorted({s for s in (sources[m] for m in members) if s}),
        first_published=dates[0] if dates else None,
        last_published=dates[-1] if dates else None,
        cohesion=round(cohesion, 4),
    )


@dataclass(frozen=True)
class SummaryArticles:
    """The fields of the articles that summaries read, row-aligned with ``body`` (their
    L2-normalised body TF-IDF rows, whose terms are ``vocabulary``)."""

    titles: Sequence[str | None]
    texts: Sequence[str]
    sources: Sequence[str | None]
    datelines: Sequence[str | None]
    published: Sequence[datetime | None]
    article_ids: Sequence[str]
    body: sp.csr_matrix
    vocabulary: np.ndarray

    def take(self, rows: Sequence[int]) -> SummaryArticles:
        """The articles ``rows`` only, in that order, with only the vocabulary their rows use."""
        body, vocabulary = compact_columns(self.body[list(rows)], self.vocabulary)
        return SummaryArticles(
            titles=[self.titles[r] for r in rows],
            texts=[self.texts[r] for r in rows],
            sources=[self.sources[r] for r in rows],
            datelines=[self.datelines[r] for r in rows],
            published=[self.published[r] for r in rows],
            article_ids=[self.article_ids[r] for r in rows],
            body=body,
            vocabulary=vocabulary,
        )

    def load(self) -> SummaryArticles:
        return self


class SummarySource(Protocol):
    """Articles to summarise, fetched when :meth:`load` is called, so that a worker process
    can be sent a small description of its share (say, rows of a file) and read it itself."""

    def take(self, rows: Sequence[int]) -> SummarySource:
        """The articles ``rows`` only, in that order."""
        ...

    def load(self) -> SummaryArticles:
        """The articles' fields."""
        ...


def _summarize_chunk(
    clusters: Sequence[Sequence[int]],
    entity_names: Sequence[list[str]],
    source: SummarySource,
    settings: SummaryConfig,
    positions: Sequence[int] | np.ndarray | None = None,
) -> list[ClusterSummary]:
    """The summaries of ``clusters`` (rows of ``source``); each representative given as its
    item of ``positions`` when given."""
    articles = source.load()
    out: list[ClusterSummary] = []
    for start in range(0, len(clusters), _CENTROID_CLUSTERS):
        batch = clusters[start : start + _CENTROID_CLUSTERS]
        for members, centroid, names in zip(batch, _centroids(batch, articles.body),
                                            entity_names[start : start + _CENTROID_CLUSTERS], strict=True):
            out.append(_summarize(members, centroid, articles, names, settings, positions))
    return out


def summarize_clusters(
    clusters: Sequence[Sequence[int]],
    articles: SummarySource,
    entity_names: Sequence[list[str]],
    settings: SummaryConfig,
    *,
    workers: int = 1,
    chunk_articles: int = 5_000,
    pool: Executor | None = None,
) -> list[ClusterSummary]:
    """:func:`summarize_cluster` of every cluster (``entity_names[k]`` are cluster ``k``'s),
    in order. With ``workers`` > 1 and more than ``chunk_articles`` articles, runs of
    clusters of about equal work (about ``chunk_articles`` articles' worth, as many runs as
    a multiple of ``workers``) are summarised in worker processes, each sent only its
    clusters' articles (``articles.take``, loaded there); the summaries are the same. The
    processes are those of ``pool`` when given, else new ones."""
    sizes = np.array([len(members) for members in clusters], dtype=np.float64)
    if workers < 2 or sizes.sum() <= chunk_articles:
        return _summarize_chunk(clusters, entity_names, articles, settings)
    from dedup.minhash import even_runs, process_pool

    # A cluster's work: mostly the first sentences of at most ``source_articles`` members,
    # plus a little per member (its row of the centroid) and per cluster. Runs of about equal
    # work, as many as runs of ``chunk_articles`` such members would be.
    work = np.minimum(sizes, settings.source_articles) + 0.1 * sizes + 0.25
    bounds = even_runs(work, chunk_articles, workers)
    runs = [list(range(a, b)) for a, b in itertools.pairwise(bounds)]
    with nullcontext(pool) if pool is not None else process_pool(workers) as executor:
        futures = []
        for run in runs:
            rows = np.unique(np.concatenate([np.asarray(clusters[k], dtype=np.int64) for k in run]))
            local = np.empty(int(rows[-1]) + 1, dtype=np.int64)
            local[rows] = np.arange(len(rows))
            futures.append(
                executor.submit(
                    _summarize_chunk,
                    [local[clusters[k]].tolist() for k in run],
                    [entity_names[k] for k in run],
                    articles.take(rows.tolist()),
                    settings,
                    rows,
                )
            )
        out: list[ClusterSummary] = []
        for future in futures:
            out.extend(future.result())
    return out
