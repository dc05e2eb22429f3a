"""The pipeline as named stages that exchange files in a work directory.

Each stage reads the files of the stages before it, writes its own (inspectable) file and
returns a :class:`StageResult` with counts. :func:`run_pipeline` chains them and is the
table of contents; the Prefect flow in ``flows/`` calls the same stage functions as tasks.

    documents.parquet  <- ingest_articles   (read inputs, clean, reject what cannot be used)
    signatures.parquet <- compute_signatures (MinHash of word shingles)
    dedup.parquet      <- find_duplicates    (exact hash + LSH candidates + exact verification)
    events.parquet,    <- group_events       (two-stage event clustering of canonical articles,
    clusters.parquet                          then one summary row per cluster)
    output/            <- publish_outputs    (articles, clusters, duplicates, rejects, manifest)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedup import schema
from dedup.clean import clean_article
from dedup.cluster import cluster_events, cluster_id
from dedup.config import ClusterConfig, DuplicateConfig, IngestConfig, MinHashConfig, PipelineConfig, SummaryConfig
from dedup.duplicates import band_candidates, group_duplicates, verify_pairs
from dedup.errors import OutputError
from dedup.features import count_features, tfidf, top_entities
from dedup.ingest import read_inputs
from dedup.io import publish, read_table, write_json, write_table
from dedup.minhash import compute_signatures as minhash_signatures
from dedup.minhash import shingle_hashes
from dedup.records import RawArticle, Reject
from dedup.summarize import summarize_cluster
from dedup.text import normalize_for_hash

__all__ = [
    "OUTPUT_FILES",
    "RunReport",
    "StageResult",
    "compute_signatures",
    "find_duplicates",
    "group_events",
    "ingest_articles",
    "publish_outputs",
    "run_pipeline",
]

OUTPUT_FILES = ("articles.parquet", "clusters.parquet", "duplicates.parquet", "rejects.parquet")
DOCUMENTS, REJECTS, SIGNATURES, DEDUP, EVENTS, CLUSTERS = (
    "documents.parquet",
    "rejects.parquet",
    "signatures.parquet",
    "dedup.parquet",
    "events.parquet",
    "clusters.parquet",
)
_SIGNATURES = pa.schema(
    [pa.field("article_id", pa.string(), nullable=False), pa.field("signature", pa.list_(pa.uint32(), 128))]
)
_DEDUP = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("dup_group_id", pa.string(), nullable=False),
        pa.field("is_canonical", pa.bool_(), nullable=False),
        pa.field("similarity", pa.float32(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
    ]
)
_EVENTS = pa.schema(
    [pa.field("article_id", pa.string(), nullable=False), pa.field("cluster_id", pa.string(), nullable=False)]
)


@dataclass(frozen=True)
class StageResult:
    """What a stage wrote and what it counted."""

    stage: str
    path: Path
    counts: dict[str, int]
    seconds: float


@dataclass
class RunReport:
    """Counts and timings of every stage of one run (written as ``report.json``)."""

    stages: list[StageResult] = field(default_factory=list)

    def add(self, result: StageResult) -> StageResult:
        self.stages.append(result)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {"stages": [{"stage": s.stage, "counts": s.counts, "seconds": round(s.seconds, 3)} for s in self.stages]}


def _timestamp(value: Any) -> float:
    return value.timestamp() if value is not None else math.nan


def ingest_articles(paths: Sequence[str | Path], work: Path, config: IngestConfig) -> StageResult:
    """Read every input, clean each article, and write ``documents.parquet`` and ``rejects.parquet``.

    An article with no text left once its page furniture is removed is rejected too.
    """
    start = time.perf_counter()
    docs: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    counts = {"read": 0, "accepted": 0, "rejected": 0, "noted": 0, "furniture_lines_removed": 0}
    for item in read_inputs(list(paths), config):
        if isinstance(item, Reject):
            rejects.append(
                {
                    "input": item.input,
                    "record": item.record,
                    "article_id": item.article_id,
                    "reason": item.reason,
                    "dropped": item.dropped,
                }
            )
            counts["rejected" if item.dropped else "noted"] += 1
            continue
        counts["read"] += 1
        docs_row = _clean_row(item)
        if docs_row is None:
            rejects.append(
                {
                    "input": item.input,
                    "record": item.record,
                    "article_id": item.article_id,
                    "reason": "no article text left after removing page furniture",
                    "dropped": True,
                }
            )
            counts["rejected"] += 1
            continue
        counts["furniture_lines_removed"] += docs_row.pop("_removed")
        docs.append(docs_row)
    docs.sort(key=lambda row: row["article_id"])
    counts["accepted"] = write_table(docs, work / DOCUMENTS, schema.DOCUMENTS)
    write_table(rejects, work / REJECTS, schema.REJECTS)
    return StageResult("ingest", work / DOCUMENTS, counts, time.perf_counter() - start)


def _clean_row(raw: RawArticle) -> dict[str, Any] | None:
    article = clean_article(raw)
    if article.n_words == 0:
        return None
    return {
        "article_id": article.article_id,
        "title": article.title,
        "source": article.source,
        "url": article.url,
        "published_at": article.published_at,
        "dateline": article.dateline,
        "byline": article.byline,
        "input": article.input,
        "record": article.record,
        "n_words": article.n_words,
        "content_hash": article.content_hash,
        "text": article.text,
        "_removed": article.removed_lines,
    }


def _tokens(text: str) -> list[str]:
    return normalize_for_hash(text).split()


def compute_signatures(work: Path, config: MinHashConfig) -> StageResult:
    """MinHash signature of every document (``signatures.parquet``, settings in its metadata)."""
    start = time.perf_counter()
    docs = read_table(work / DOCUMENTS, schema.DOCUMENTS)
    texts = docs.column("text").to_pylist()
    signatures = minhash_signatures(
        [_tokens(t) for t in texts], num_perm=config.num_perm, shingle_size=config.shingle_size, seed=config.seed
    )
    sig_schema = pa.schema(
        [_SIGNATURES.field("article_id"), pa.field("signature", pa.list_(pa.uint32(), config.num_perm))],
        metadata={
            "minhash": str(config),
            "scheme": config.scheme,
            "num_perm": str(config.num_perm),
            "seed": str(config.seed),
            "shingle_size": str(config.shingle_size),
            "hashfunc": "dedup.minhash.hash_shingle",
        },
    )
    flat = pa.array(signatures.reshape(-1), type=pa.uint32())
    table = pa.Table.from_arrays(
        [docs.column("article_id"), pa.FixedSizeListArray.from_arrays(flat, config.num_perm)], schema=sig_schema
    )
    write_table(table, work / SIGNATURES, sig_schema)
    return StageResult("signatures", work / SIGNATURES, {"documents": len(texts)}, time.perf_counter() - start)


def find_duplicates(work: Path, minhash: MinHashConfig, config: DuplicateConfig) -> StageResult:
    """Group exact and near-duplicate documents; choose each group's canonical article.

    Writes ``dedup.parquet``: every document with its group's canonical id, whether it is
    the canonical one, and its similarity to the canonical article.
    """
    start = time.perf_counter()
    docs = read_table(work / DOCUMENTS, schema.DOCUMENTS)
    ids = docs.column("article_id").to_pylist()
    texts = docs.column("text").to_pylist()
    hashes = docs.column("content_hash").to_pylist()
    published = [_timestamp(v) for v in docs.column("published_at").to_pylist()]
    sigs = read_table(work / SIGNATURES).column("signature")
    signatures = np.asarray(sigs.combine_chunks().flatten(), dtype=np.uint32).reshape(len(ids), -1)

    exact = _exact_pairs(hashes)
    shingles = {}
    lengths = np.array([len(t.split()) for t in texts])
    candidates = band_candidates(signatures, config.bands, config.rows, eligible=lengths >= config.min_shingles)
    needed = np.unique(candidates)
    for i in needed:
        shingles[int(i)] = np.unique(shingle_hashes(_tokens(texts[i]), minhash.shingle_size))
    near, _ = verify_pairs(
        candidates,
        shingles,
        config.jaccard_threshold,
        config.containment_threshold,
        min_containment_shingles=config.min_containment_shingles,
        min_length_ratio=config.min_length_ratio,
    )
    classes = np.unique(np.array(hashes, dtype=object), return_inverse=True)[1] if ids else np.empty(0, np.int64)
    groups = group_duplicates(
        len(ids), near, ids, [None if math.isnan(p) else p for p in published], classes=classes
    )

    exact_set = {tuple(p) for p in exact.tolist()}
    rows = []
    for i, c in enumerate(groups.canonical.tolist()):
        if i == c:
            similarity, method = 1.0, "canonical"
        elif hashes[i] == hashes[c]:
            similarity, method = 1.0, "exact"
        else:
            similarity, method = _jaccard(i, c, shingles, texts, minhash.shingle_size), "near"
        rows.append(
            {
                "article_id": ids[i],
                "dup_group_id": ids[c],
                "is_canonical": i == c,
                "similarity": similarity,
                "method": method,
            }
        )
    write_table(rows, work / DEDUP, _DEDUP)
    counts = {
        "documents": len(ids),
        "exact_pairs": len(exact_set),
        "lsh_candidates": len(candidates),
        "verified_near_pairs": len(near),
        "groups": groups.n_groups,
        "duplicates": int(len(ids) - int(groups.is_canonical.sum())),
    }
    return StageResult("duplicates", work / DEDUP, counts, time.perf_counter() - start)


def _exact_pairs(hashes: Sequence[str]) -> np.ndarray:
    first: dict[str, int] = {}
    pairs = []
    for i, h in enumerate(hashes):
        if h in first:
            pairs.append((first[h], i))
        else:
            first[h] = i
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _jaccard(i: int, j: int, shingles: dict[int, np.ndarray], texts: Sequence[str], k: int) -> float:
    sets = [shingles.get(x) if x in shingles else np.unique(shingle_hashes(_tokens(texts[x]), k)) for x in (i, j)]
    a, b = sets
    if a is None or b is None or not len(a) or not len(b):
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return round(inter / (len(a) + len(b) - inter), 4)


def group_events(work: Path, cluster: ClusterConfig, summary: SummaryConfig) -> StageResult:
    """Cluster canonical articles into events and describe each cluster.

    Duplicates join their canonical article's cluster. Writes ``events.parquet`` (article to
    cluster) and ``clusters.parquet`` (one described row per cluster).
    """
    start = time.perf_counter()
    docs = read_table(work / DOCUMENTS, schema.DOCUMENTS)
    dedup = read_table(work / DEDUP, _DEDUP)
    ids = docs.column("article_id").to_pylist()
    canonical_mask = np.asarray(dedup.column("is_canonical").to_numpy(zero_copy_only=False), dtype=bool)
    canon = np.flatnonzero(canonical_mask)
    titles = docs.column("title").to_pylist()
    texts = docs.column("text").to_pylist()
    datelines = docs.column("dateline").to_pylist()
    sources = docs.column("source").to_pylist()
    published_dt = docs.column("published_at").to_pylist()
    published = np.array([_timestamp(v) for v in published_dt], dtype=np.float64)

    pick = lambda values: [values[i] for i in canon]
    counts = count_features(pick(titles), pick(texts), pick(datelines), lead_sentences=cluster.lead_sentences)
    labels = cluster_events(counts, published[canon], cluster)
    body = tfidf(counts.blocks[0], local=False)

    group_of = dedup.column("dup_group_id").to_pylist()
    index_of = {article_id: i for i, article_id in enumerate(ids)}
    members_of: dict[int, list[int]] = {}
    for row, label in zip(canon.tolist(), labels.tolist(), strict=True):
        members_of.setdefault(label, []).append(row)
    copies_of: dict[int, list[int]] = {}
    for i, group in enumerate(group_of):
        copies_of.setdefault(index_of[group], []).append(i)

    cluster_rows = []
    assignment: dict[int, str] = {}
    local_row = {row: k for k, row in enumerate(canon.tolist())}
    for _label, members in sorted(members_of.items()):
        everyone = sorted((i for m in members for i in copies_of[m]), key=lambda i: ids[i])
        cid = cluster_id([ids[i] for i in everyone])
        for i in everyone:
            assignment[i] = cid
        local = [local_row[m] for m in members]
        described = summarize_cluster(
            local,
            titles=pick(titles),
            texts=pick(texts),
            sources=[sources[i] for i in canon],
            datelines=pick(datelines),
            published=pick(published_dt),
            article_ids=pick(ids),
            body=body,
            vocabulary=counts.vocabularies[0],
            entity_names=top_entities([counts.entities[k] for k in local], 10),
            min_sentences=summary.min_sentences,
            max_sentences=summary.max_sentences,
            top_terms=summary.top_terms,
            redundancy=summary.redundancy,
        )
        all_dates = sorted(d for d in (published_dt[i] for i in everyone) if d is not None)
        cluster_rows.append(
            {
                "cluster_id": cid,
                "size": len(everyone),
                "n_canonical": len(members),
                "article_ids": [ids[i] for i in everyone],
                "representative_id": ids[canon[described.representative]],
                "headline": described.headline,
                "summary": " ".join(described.sentences),
                "summary_sentences": described.sentences,
                "top_terms": described.top_terms,
                "entities": described.entities,
                "places": described.places,
                "sources": sorted({s for s in (sources[i] for i in everyone) if s}),
                "first_published": all_dates[0] if all_dates else None,
                "last_published": all_dates[-1] if all_dates else None,
                "cohesion": described.cohesion,
            }
        )
    cluster_rows.sort(key=lambda r: (-r["size"], r["cluster_id"]))
    write_table([{"article_id": ids[i], "cluster_id": assignment[i]} for i in range(len(ids))], work / EVENTS, _EVENTS)
    write_table(cluster_rows, work / CLUSTERS, schema.CLUSTERS)
    result_counts = {
        "canonical_articles": len(canon),
        "clusters": len(cluster_rows),
        "singleton_clusters": sum(r["size"] == 1 for r in cluster_rows),
    }
    return StageResult("events", work / CLUSTERS, result_counts, time.perf_counter() - start)


def publish_outputs(work: Path, output: Path, report: RunReport) -> StageResult:
    """Join the stage files into the output tables and move them into ``output`` together."""
    start = time.perf_counter()
    staging = work / "publish"
    staging.mkdir(exist_ok=True)
    docs = read_table(work / DOCUMENTS, schema.DOCUMENTS)
    dedup = read_table(work / DEDUP, _DEDUP)
    events = read_table(work / EVENTS, _EVENTS)
    articles = docs.append_column("dup_group_id", dedup.column("dup_group_id"))
    articles = articles.append_column("is_canonical", dedup.column("is_canonical"))
    articles = articles.append_column("cluster_id", events.column("cluster_id"))
    n_articles = write_table(articles, staging / "articles.parquet", schema.ARTICLES)
    copies = dedup.filter(pc.invert(dedup.column("is_canonical")))
    duplicates = pa.table(
        {
            "article_id": copies.column("article_id"),
            "duplicate_of": copies.column("dup_group_id"),
            "similarity": copies.column("similarity"),
            "method": copies.column("method"),
        }
    )
    n_dups = write_table(duplicates, staging / "duplicates.parquet", schema.DUPLICATES)
    clusters = read_table(work / CLUSTERS, schema.CLUSTERS)
    n_clusters = write_table(clusters, staging / "clusters.parquet", schema.CLUSTERS)
    n_rejects = write_table(read_table(work / REJECTS, schema.REJECTS), staging / "rejects.parquet", schema.REJECTS)
    counts = {"articles": n_articles, "clusters": n_clusters, "duplicates": n_dups, "rejects": n_rejects}
    report_data = report.to_dict() | {"outputs": counts}
    write_json(report_data, staging / "report.json")
    publish(staging, output, [*OUTPUT_FILES, "report.json"])
    return StageResult("publish", output, counts, time.perf_counter() - start)


def prepare_workdir(output: Path) -> Path:
    """A fresh work directory for one run, inside the output directory."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        work = output / ".work"
        if work.exists():
            import shutil

            shutil.rmtree(work)
        work.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot write to output directory {output}: {exc.strerror}") from exc
    return work


def run_pipeline(paths: Sequence[str | Path], output: str | Path, config: PipelineConfig | None = None) -> RunReport:
    """Run every stage on ``paths`` and publish into ``output``; return the counts.

    >>> # run_pipeline(["data/articles"], "output")  # doctest: +SKIP
    """
    config = config or PipelineConfig()
    output = Path(output)
    work = prepare_workdir(output)
    report = RunReport()
    report.add(ingest_articles(paths, work, config.ingest))
    report.add(compute_signatures(work, config.minhash))
    report.add(find_duplicates(work, config.minhash, config.duplicates))
    report.add(group_events(work, config.cluster, config.summary))
    report.add(publish_outputs(work, output, report))
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return report


def config_dict(config: PipelineConfig) -> dict[str, Any]:
    """Settings as plain data (for reports and artifacts)."""
    return asdict(config)
