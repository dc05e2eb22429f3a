"""Cross-validation of event-clustering settings over whole topics of a labelled corpus.

Settings are compared by how well they do on topics they were not chosen on:

- :func:`topic_folds` splits a corpus into folds of whole topics (a topic's events share
  their vocabulary, so a topic must never be split between choosing and scoring);
- :func:`prepare_batch` runs the pipeline once on one fold, exactly as a user would, and
  keeps what the clustering stage sees (the canonical articles and their copies);
- :func:`score_batch` then clusters that fold under any :class:`~dedup.config.ClusterConfig`
  with :func:`dedup.cluster.cluster_events` and scores it against gold (B-cubed F1), in a
  fraction of a second, without running the pipeline again;
- :func:`choose` picks a setting from scores (best mean, the simpler one on near ties) and
  :func:`nested_choices` applies it to the other folds of every fold, so that the held-out
  score of the whole procedure is measured too.

Each fold is clustered as a batch of its own, the way a held-out corpus is.

Example:
    >>> from dedup.evaluation.ecbplus import load_benchmark  # doctest: +SKIP
    >>> folds = topic_folds(load_benchmark("ecbplus-train"), k=5, seed=0)  # doctest: +SKIP
    >>> batches = [prepare_batch(fold) for fold in folds]  # doctest: +SKIP
    >>> [round(score_batch(b, ClusterConfig()), 3) for b in batches]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from dedup.cluster import cluster_events
from dedup.config import ClusterConfig, PipelineConfig
from dedup.errors import InputError
from dedup.evaluation.ecbplus import LabelledArticle, natural_key
from dedup.evaluation.harness import REJECTED_PREFIX, check_ids, write_jsonl
from dedup.evaluation.metrics import bcubed
from dedup.features import FeatureCounts, count_features
from dedup.pipeline import run_pipeline

__all__ = [
    "Batch",
    "Choice",
    "choose",
    "cluster_batch",
    "nested_choices",
    "prepare_batch",
    "prepare_files",
    "score_batch",
    "topic_folds",
]

TIE = 0.002
"""Mean scores this close to the best count as tied: the simpler setting is chosen."""


def topic_folds(articles: Sequence[LabelledArticle], k: int = 5, seed: int = 0) -> list[list[LabelledArticle]]:
    """Split ``articles`` into ``k`` folds of whole topics, deterministically.

    Topics are put in natural order ("2" before "10"), shuffled by ``seed`` (NumPy ``PCG64``)
    and dealt to the folds in turn, so fold sizes differ by at most one topic. Articles keep
    their input order inside a fold.

    Raises:
        InputError: An article without a topic, or fewer topics than folds.
        ValueError: ``k`` below 2 or a negative ``seed``.
    """
    if k < 2:
        raise ValueError(f"k must be at least 2 folds, got {k}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    untopiced = [a.id for a in articles if a.topic is None]
    if untopiced:
        raise InputError(f"every article needs a topic to be dealt to a fold; none for {untopiced[:5]}")
    topics = sorted({str(a.topic) for a in articles}, key=natural_key)
    if len(topics) < k:
        raise InputError(f"{len(topics)} topics cannot fill {k} folds")
    order = np.random.Generator(np.random.PCG64(seed)).permutation(len(topics))
    fold_of = {topics[int(t)]: position % k for position, t in enumerate(order)}
    return [[a for a in articles if fold_of[str(a.topic)] == fold] for fold in range(k)]


@dataclass
class Batch:
    """A labelled batch as the clustering stage of one pipeline run saw it.

    Attributes:
        ids: Every input article id, in input order.
        gold: Their gold events.
        canonical: For each article, the row of its canonical article among the clustered
            ones (an article is its own canonical when it is no copy), -1 when rejected.
        titles, texts, datelines: Of the clustered (canonical) articles, after cleaning.
        published: Their publication times in epoch seconds, NaN when unknown.
        pipeline_clusters: The cluster id the pipeline run gave each article ("" when
            rejected), under the settings it ran with.
    """

    ids: list[str]
    gold: list[str]
    canonical: np.ndarray
    titles: list[str | None]
    texts: list[str]
    datelines: list[str | None]
    published: np.ndarray
    pipeline_clusters: list[str]
    _counts: dict[int, FeatureCounts] = field(default_factory=dict, repr=False)

    def counts(self, lead_sentences: int) -> FeatureCounts:
        """Feature counts of the clustered articles (computed once per lead length)."""
        if lead_sentences not in self._counts:
            self._counts[lead_sentences] = count_features(
                self.titles, self.texts, self.datelines, lead_sentences=lead_sentences
            )
        return self._counts[lead_sentences]


def prepare_batch(articles: Sequence[LabelledArticle], config: PipelineConfig | None = None) -> Batch:
    """Run the pipeline on ``articles`` in a temporary directory and keep what clustering needs.

    Ingest, cleaning and near-duplicates do not depend on the cluster settings, so one run
    serves every :class:`~dedup.config.ClusterConfig` scored on the batch.

    Raises:
        InputError: No articles, or repeated ids.
    """
    check_ids([a.id for a in articles])
    with tempfile.TemporaryDirectory(prefix="newsdedup-cv-") as tmp:
        source = Path(tmp) / "articles.jsonl"
        write_jsonl(source, ((a.id, a.text, a.url) for a in articles))
        return _run_batch([source], {a.id: a.event for a in articles}, config, Path(tmp) / "output")


def prepare_files(
    paths: Sequence[str | Path], gold: Mapping[str, str], config: PipelineConfig | None = None
) -> Batch:
    """:func:`prepare_batch` of input files as the pipeline reads them; ``gold`` gives the
    event of every article id they hold (its keys, in order, are the scored articles).

    Raises:
        InputError: No gold labels.
    """
    if not gold:
        raise InputError("no gold labels given: there is nothing to score")
    with tempfile.TemporaryDirectory(prefix="newsdedup-cv-") as tmp:
        return _run_batch(paths, gold, config, Path(tmp) / "output")


def _run_batch(
    paths: Sequence[str | Path], gold: Mapping[str, str], config: PipelineConfig | None, output: Path
) -> Batch:
    run_pipeline(list(paths), output, config or PipelineConfig())
    table = pq.read_table(
        output / "articles.parquet",
        columns=["article_id", "title", "text", "dateline", "published_at", "is_canonical", "dup_group_id",
                 "cluster_id"],
    ).to_pydict()
    ids = list(gold)
    # Canonical articles in the order of the published table, which is the order clustering takes.
    rows = [k for k, is_canonical in enumerate(table["is_canonical"]) if is_canonical]
    row_of = {table["article_id"][k]: r for r, k in enumerate(rows)}
    accepted = dict(zip(table["article_id"], range(len(table["article_id"])), strict=True))
    canonical = [row_of[table["dup_group_id"][accepted[i]]] if i in accepted else -1 for i in ids]
    return Batch(
        ids=ids,
        gold=[gold[i] for i in ids],
        canonical=np.array(canonical, dtype=np.int64),
        titles=[table["title"][k] for k in rows],
        texts=[table["text"][k] for k in rows],
        datelines=[table["dateline"][k] for k in rows],
        published=np.array(
            [table["published_at"][k].timestamp() if table["published_at"][k] else math.nan for k in rows],
            dtype=np.float64,
        ),
        pipeline_clusters=[table["cluster_id"][accepted[i]] if i in accepted else REJECTED_PREFIX + i for i in ids],
    )


def cluster_batch(batch: Batch, config: ClusterConfig) -> list[Hashable]:
    """The event of every article of ``batch`` under ``config``: copies share their canonical
    article's event, a rejected article is an event of its own (as the harness scores it)."""
    labels = cluster_events(batch.counts(config.lead_sentences), batch.published, config).tolist()
    return [labels[r] if r >= 0 else REJECTED_PREFIX + article_id
            for r, article_id in zip(batch.canonical.tolist(), batch.ids, strict=True)]


def score_batch(batch: Batch, config: ClusterConfig) -> float:
    """B-cubed F1 of ``batch`` clustered under ``config``."""
    return bcubed(cluster_batch(batch, config), batch.gold).f1


@dataclass(frozen=True)
class Choice:
    """A setting chosen from scores: its name, its mean score and its knob count."""

    name: str
    mean: float
    knobs: int


def choose(scores: Mapping[str, Sequence[float]], knobs: Mapping[str, int], tie: float = TIE) -> Choice:
    """The setting with the best mean score; of those within ``tie`` of the best, the one
    with the fewest knobs (then the better mean, then the first name in sorted order).

    Raises:
        ValueError: No settings, or a setting without a knob count.
    """
    if not scores:
        raise ValueError("no settings to choose from")
    missing = sorted(set(scores) - set(knobs))
    if missing:
        raise ValueError(f"no knob count for {missing[:5]}")
    means = {name: float(np.mean(values)) for name, values in scores.items()}
    best = max(means.values())
    name = min((n for n, m in means.items() if m >= best - tie), key=lambda n: (knobs[n], -means[n], n))
    return Choice(name, means[name], knobs[name])


def nested_choices(
    scores: Mapping[str, Sequence[float]], knobs: Mapping[str, int], k: int, tie: float = TIE
) -> list[tuple[str, float]]:
    """For every fold, the setting :func:`choose` picks on the other folds of its split and
    that setting's score on the fold.

    ``scores[name][j]`` is the score of setting ``name`` on fold ``j``; folds come in splits
    of ``k`` (fold ``j`` belongs to split ``j // k``), so repeated splits of one corpus are
    kept apart.

    Raises:
        ValueError: Settings with different numbers of folds, or a number of folds that is
            not a multiple of ``k``.
    """
    lengths = {len(values) for values in scores.values()}
    if len(lengths) != 1:
        raise ValueError("every setting needs a score on every fold")
    n = lengths.pop()
    if k < 2 or n % k:
        raise ValueError(f"{n} folds do not make splits of {k}")
    result = []
    for j in range(n):
        first = j - j % k
        training = [g for g in range(first, first + k) if g != j]
        picked = choose({name: [values[g] for g in training] for name, values in scores.items()}, knobs, tie)
        result.append((picked.name, float(scores[picked.name][j])))
    return result
