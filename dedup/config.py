"""Typed, frozen settings of each stage. Every stage takes only the config it needs.

Defaults are the tuned defaults (see ``docs/method.md``); ``ecbplus-train`` is the only data
the clustering defaults were chosen on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dedup.errors import ConfigError


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


@dataclass(frozen=True)
class IngestConfig:
    """Limits applied while reading inputs; items over a limit become reject rows.

    The defaults bound the memory one item can take while letting every real news article
    through (see ``docs/operations.md``).

    Attributes:
        max_article_chars: Longest article text kept. Longer ones are rejected with their
            length; a ``.txt`` file or a JSON line too large to hold a text within the limit
            is rejected without being decoded.
        max_file_bytes: Largest input file read at all (JSON Lines and Parquet are streamed,
            HTML pages are read whole).
        max_articles: Articles accepted per run; reading stops there with one reject row.
    """

    max_article_chars: int = 1_000_000
    max_file_bytes: int = 2_000_000_000
    max_articles: int = 50_000_000

    def __post_init__(self) -> None:
        _check(self.max_article_chars > 0, "max_article_chars must be positive")
        _check(self.max_file_bytes > 0, "max_file_bytes must be positive")
        _check(self.max_articles > 0, "max_articles must be positive")


@dataclass(frozen=True)
class MinHashConfig:
    """MinHash signature settings. Signatures are comparable only under equal settings.

    The scheme is ``oph32``: one-permutation MinHash with ``num_perm`` bins, densified, salted
    by ``seed``; the shingle hash is :func:`dedup.minhash.hash_shingle`; see :mod:`dedup.minhash`.
    The shingles are those of each article's headline and body (:func:`dedup.text.copy_text`),
    which the name of the settings states (``+title``): signatures of the body alone, as
    made before, are not comparable with them.
    """

    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    scheme: str = "oph32"

    def __post_init__(self) -> None:
        _check(1 <= self.num_perm <= 1024, f"num_perm must be in 1..1024, got {self.num_perm}")
        _check(1 <= self.shingle_size <= 16, f"shingle_size must be in 1..16, got {self.shingle_size}")
        _check(self.scheme == "oph32", f"only scheme 'oph32' is supported, got {self.scheme!r}")

    def __str__(self) -> str:
        return f"minhash-{self.scheme}-p{self.num_perm}-k{self.shingle_size}-s{self.seed}+title"

    def metadata(self) -> dict[str, str]:
        """The settings as stored next to signatures (Parquet schema metadata)."""
        return {
            "minhash": str(self),
            "scheme": self.scheme,
            "num_perm": str(self.num_perm),
            "seed": str(self.seed),
            "shingle_size": str(self.shingle_size),
            "hashfunc": "dedup.minhash.hash_shingle",
            "text": "dedup.text.copy_text",
        }


@dataclass(frozen=True)
class DuplicateConfig:
    """Near-duplicate detection: LSH banding proposes, exact shingle overlap decides.

    A candidate pair is a duplicate when its exact shingle Jaccard is at least
    ``jaccard_threshold``, or the shorter article's shingles are at least
    ``containment_threshold`` contained in the longer one (a truncated copy), or the
    shorter article's tokens are covered to ``coverage_threshold`` by shingles the longer
    one has too (an edited and cut copy; checked for pairs whose containment reaches
    ``coverage_min_containment``). Containment and coverage count only for a shorter
    article of ``min_containment_shingles`` shingles and ``min_length_ratio`` of the longer.
    Whatever kept it, a pair is no duplicate when either article has a stretch of more than
    ``max_inner_gap`` tokens of its own inside it, neither at its start nor at its end: two
    articles that share passages but each tell more (see :mod:`dedup.coverage`). The longer
    article's stretches do not count when the shorter one is covered to ``inside_coverage``
    (wholly inside it: a copy with paragraphs cut). None turns the coverage test, or the
    stretch test, off.

    Thresholds were chosen on the syndicated copies of ECB+ train only (docs/method.md).
    """

    bands: int = 64
    rows: int = 2
    jaccard_threshold: float = 0.5
    containment_threshold: float = 0.8
    min_containment_shingles: int = 10
    min_length_ratio: float = 0.5
    min_shingles: int = 8  # fewer words than this: too short for LSH (exact copies are still found)
    coverage_threshold: float | None = 0.9
    coverage_min_containment: float = 0.5
    max_inner_gap: int | None = 45
    inside_coverage: float = 0.98

    def __post_init__(self) -> None:
        _check(self.bands >= 1 and self.rows >= 1, "bands and rows must be positive")
        _check(0.0 < self.jaccard_threshold <= 1.0, "jaccard_threshold must be in (0, 1]")
        _check(0.0 < self.containment_threshold <= 1.0, "containment_threshold must be in (0, 1]")
        _check(self.coverage_threshold is None or 0.0 < self.coverage_threshold <= 1.0,
               "coverage_threshold must be in (0, 1] or None")
        _check(0.0 <= self.coverage_min_containment <= 1.0, "coverage_min_containment must be in [0, 1]")
        _check(self.max_inner_gap is None or self.max_inner_gap >= 0, "max_inner_gap must be >= 0 or None")
        _check(0.0 < self.inside_coverage <= 1.0, "inside_coverage must be in (0, 1]")


@dataclass(frozen=True)
class ClusterConfig:
    """Event clustering in two stages, then a place check (see :mod:`dedup.cluster`).

    Weights are per feature block, in the order of :data:`dedup.features.BLOCKS` (body,
    lead, entities, lead entities, lead places).

    - Stories: average linkage over the whole batch at ``story_threshold`` (batch IDF).
    - Events: each story of three or more articles is re-weighed with IDF inside the story
      (offset ``event_idf_offset``: 0 drops words every article of the story shares, 1 is
      the usual IDF) and cut at ``event_threshold``; a sub-event smaller than
      ``min_event_size`` joins its most similar sibling when their mean similarity reaches
      ``absorb_threshold``, unless the sibling agrees on a lead place (``absorb_place_share``
      of its members that state one) that the small one does not state.
    - Places: in a cluster of ``place_split_min_size`` or more whose members agree on where
      the event is (``place_split_share`` of those stating a dateline or lead place), members
      stating another place become an event of their own (0 turns the check off).
    - Publication times damp similarity beyond ``max_days_apart`` days.

    Defaults were chosen on ECB+ train only (B-cubed F1 0.922 there; docs/method.md). The
    place check costs 0.005 of it on ECB+ train and separates two events of one week held in
    different cities, which no similarity threshold did without costing far more.
    """

    story_threshold: float = 0.08
    story_weights: tuple[float, float, float, float, float] = (0.35, 0.25, 0.40, 0.0, 0.0)
    event_threshold: float = 0.05
    event_weights: tuple[float, float, float, float, float] = (0.10, 0.10, 0.30, 0.30, 0.20)
    event_idf_offset: float = 0.25
    min_event_size: int = 3
    absorb_threshold: float = 0.0
    absorb_place_share: float = 0.67
    place_split_share: float = 0.8
    place_split_min_size: int = 3
    lead_sentences: int = 2
    max_days_apart: float = 90.0

    def __post_init__(self) -> None:
        for name in ("story_threshold", "event_threshold"):
            value = getattr(self, name)
            _check(0.0 < value < 1.0, f"{name} must be in (0, 1), got {value}")
        for name in ("story_weights", "event_weights"):
            weights = getattr(self, name)
            _check(
                len(weights) == 5, f"{name} needs 5 weights (body, lead, entities, lead entities, lead places)"
            )
            _check(all(w >= 0 for w in weights) and sum(weights) > 0, f"{name} must be >= 0, not all 0")
        for name in ("absorb_place_share", "place_split_share"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, f"{name} must be in [0, 1], got {value}")
        _check(self.event_idf_offset >= 0, "event_idf_offset must be >= 0")
        _check(self.min_event_size >= 1, "min_event_size must be at least 1")
        _check(self.lead_sentences >= 1, "lead_sentences must be at least 1")
        _check(self.max_days_apart > 0, "max_days_apart must be positive")


@dataclass(frozen=True)
class SummaryConfig:
    """Per-cluster summary: 3-5 extractive sentences, non-redundant, lead-biased."""

    min_sentences: int = 3
    max_sentences: int = 5
    top_terms: int = 10
    redundancy: float = 0.5
    #: Candidate sentences come from this many members, those closest to the centroid: further
    #: ones rank low anyway, and a cluster of hundreds would otherwise cost hundreds of reads.
    source_articles: int = 10

    def __post_init__(self) -> None:
        _check(1 <= self.min_sentences <= self.max_sentences, "need 1 <= min_sentences <= max_sentences")
        _check(self.source_articles >= 1, "source_articles must be at least 1")


@dataclass(frozen=True)
class PipelineConfig:
    """All stage settings together; the pipeline hands each stage its own part."""

    ingest: IngestConfig = field(default_factory=IngestConfig)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    duplicates: DuplicateConfig = field(default_factory=DuplicateConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
