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
from collections.abc import Callable, Sequence
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
from dedup.io import (
    WORK_DIR,
    holds_lock,
    new_run_id,
    output_lock,
    publish,
    read_table,
    remove_stale,
    write_json,
    write_table,
)
from dedup.minhash import compute_signatures as minhash_signatures
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


def ingest_articles(
    paths: Sequence[str | Path],
    work: Path,
    config: IngestConfig,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int | None = None,
) -> StageResult:
    """Read every input, clean each article, and write ``documents.parquet`` and ``rejects.parquet``.

    An article with no text left once its page furniture is removed is rejected too.

    Articles are cleaned in batches, in worker processes once the input holds more than one
    batch (``workers``: default all CPUs), and written as they come; memory is bounded by a
    few batches until the final step orders ``documents.parquet`` by ``article_id``.
    ``progress(stage, done, total)`` is called after each batch (``total`` is 0: unknown
    while reading).
    """
    import os
    from collections import deque

    import pyarrow.parquet as pq

    from dedup.clean import clean_articles
    from dedup.minhash import default_workers, process_pool

    start = time.perf_counter()
    batch_size, row_group = 1000, 10_000
    n_workers = default_workers() if workers is None else max(1, workers)
    rejects: list[tuple[int, dict[str, Any]]] = []
    counts = {"read": 0, "accepted": 0, "rejected": 0, "noted": 0, "furniture_lines_removed": 0}
    unsorted = work / ".documents.unsorted.parquet"
    writer = pq.ParquetWriter(unsorted, schema.DOCUMENTS, compression="zstd")
    in_order = True
    last_id: str | None = None

    def absorb(batch: list[tuple[int, RawArticle]], cleaned: Sequence[Any]) -> None:
        nonlocal in_order, last_id
        rows = []
        for (seq, raw), article in zip(batch, cleaned, strict=True):
            row = _clean_row(raw, article)
            if row is None:
                reason = "no article text left after removing page furniture"
                rejects.append(
                    (seq, {"input": raw.input, "record": raw.record, "article_id": raw.article_id, "reason": reason,
                           "dropped": True})
                )
                counts["rejected"] += 1
                continue
            counts["furniture_lines_removed"] += row.pop("_removed")
            if last_id is not None and row["article_id"] < last_id:
                in_order = False
            last_id = row["article_id"]
            rows.append(row)
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=schema.DOCUMENTS), row_group_size=row_group)
            counts["accepted"] += len(rows)
        if progress is not None:
            progress("ingest", counts["read"], 0)

    pool = None
    pending: deque[tuple[list[tuple[int, RawArticle]], Any]] = deque()
    batch: list[tuple[int, RawArticle]] = []

    def dispatch(batch: list[tuple[int, RawArticle]]) -> None:
        nonlocal pool
        if n_workers > 1 and pool is None and counts["read"] > batch_size:
            pool = process_pool(n_workers)
        if pool is None:
            absorb(batch, [None] * len(batch))
            return
        pending.append((batch, pool.submit(clean_articles, [raw for _, raw in batch])))
        while len(pending) > 2 * n_workers:
            done, future = pending.popleft()
            absorb(done, future.result())

    try:
        for seq, item in enumerate(read_inputs(list(paths), config)):
            if isinstance(item, Reject):
                rejects.append(
                    (
                        seq,
                        {
                            "input": item.input,
                            "record": item.record,
                            "article_id": item.article_id,
                            "reason": item.reason,
                            "dropped": item.dropped,
                        },
                    )
                )
                counts["rejected" if item.dropped else "noted"] += 1
                continue
            counts["read"] += 1
            batch.append((seq, item))
            if len(batch) >= batch_size:
                dispatch(batch)
                batch = []
        if batch:
            dispatch(batch)
        while pending:
            done, future = pending.popleft()
            absorb(done, future.result())
    finally:
        writer.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    # Order by article_id (byte order of UTF-8 is code point order, as Python sorts strings).
    tmp = work / f".{DOCUMENTS}.tmp"
    if in_order:
        os.replace(unsorted, tmp)
    else:
        table = pq.read_table(unsorted)
        order = pc.sort_indices(table.column("article_id"))
        with pq.ParquetWriter(tmp, schema.DOCUMENTS, compression="zstd") as sorted_writer:
            for first in range(0, table.num_rows, row_group):
                sorted_writer.write_table(table.take(order[first : first + row_group]), row_group_size=row_group)
        del table
        unsorted.unlink()
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, work / DOCUMENTS)
    rejects.sort(key=lambda pair: pair[0])
    write_table([row for _, row in rejects], work / REJECTS, schema.REJECTS)
    return StageResult("ingest", work / DOCUMENTS, counts, time.perf_counter() - start)


def _clean_row(raw: RawArticle, article: Any = None) -> dict[str, Any] | None:
    """The ``documents.parquet`` row of ``raw`` (cleaned here unless ``article`` is given)."""
    if article is None:
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


def compute_signatures(
    work: Path,
    config: MinHashConfig,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int | None = None,
) -> StageResult:
    """MinHash signature of every document (``signatures.parquet``, settings in its metadata).

    Row groups of ``documents.parquet`` are the units of work, spread over ``workers``
    processes (default all CPUs) when there are several; results keep the document order.
    ``progress(stage, done, total)`` is called per row group with documents done and total.
    """
    import pyarrow.parquet as pq

    from dedup.minhash import default_workers, process_pool, signatures_of_row_groups

    start = time.perf_counter()
    path = work / DOCUMENTS
    parquet = pq.ParquetFile(path)
    n_docs = parquet.metadata.num_rows
    sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)]
    ids = pq.read_table(path, columns=["article_id"]).column("article_id")
    n_workers = default_workers() if workers is None else max(1, workers)
    args = (str(path), "text", config.num_perm, config.shingle_size, config.seed)
    parts: list[np.ndarray] = []
    if n_docs < 5_000 or len(sizes) < 2 or n_workers < 2:
        texts = pq.read_table(path, columns=["text"]).column("text").to_pylist()
        signatures = minhash_signatures(
            [_tokens(t) for t in texts], num_perm=config.num_perm, shingle_size=config.shingle_size, seed=config.seed
        ) if n_docs < 5_000 else signatures_of_row_groups(args[0], range(len(sizes)), *args[1:])
        if progress is not None:
            progress("signatures", n_docs, n_docs)
    else:
        with process_pool(n_workers) as pool:
            futures = [pool.submit(signatures_of_row_groups, args[0], [g], *args[1:]) for g in range(len(sizes))]
            for g, future in enumerate(futures):
                parts.append(future.result())
                if progress is not None:
                    progress("signatures", sum(sizes[: g + 1]), n_docs)
        signatures = np.concatenate(parts) if parts else np.empty((0, config.num_perm), dtype=np.uint32)
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
    table = pa.Table.from_arrays([ids, pa.FixedSizeListArray.from_arrays(flat, config.num_perm)], schema=sig_schema)
    write_table(table, work / SIGNATURES, sig_schema)
    return StageResult("signatures", work / SIGNATURES, {"documents": n_docs}, time.perf_counter() - start)


def find_duplicates(
    work: Path,
    minhash: MinHashConfig,
    config: DuplicateConfig,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int | None = None,
) -> StageResult:
    """Group exact and near-duplicate documents; choose each group's canonical article.

    Writes ``dedup.parquet``: every document with its group's canonical id, whether it is
    the canonical one, and its similarity to the canonical article.

    Only the texts of LSH candidates are read back and shingled (in ``workers`` processes
    when there are many); all candidate pairs are verified at once.
    ``progress(stage, done, total)`` is called per batch of candidate documents shingled.
    """
    import pyarrow.parquet as pq

    from dedup.duplicates import ShingleSets
    from dedup.minhash import default_workers, process_pool, unique_shingles_of_texts

    start = time.perf_counter()
    path = work / DOCUMENTS
    docs = pq.read_table(path, columns=["article_id", "content_hash", "published_at"])
    n = docs.num_rows
    id_column = docs.column("article_id")
    ids = id_column.to_pylist()
    micros = pc.cast(docs.column("published_at"), pa.int64()).to_numpy(zero_copy_only=False)
    dated = pc.is_valid(docs.column("published_at")).to_numpy(zero_copy_only=False)
    published = [float(us) / 1e6 if ok else None for us, ok in zip(micros.tolist(), dated.tolist(), strict=True)]
    classes = pc.dictionary_encode(docs.column("content_hash")).combine_chunks().indices.to_numpy().astype(np.int64)
    sigs = read_table(work / SIGNATURES).column("signature")
    signatures = np.asarray(sigs.combine_chunks().flatten(), dtype=np.uint32).reshape(n, -1)
    texts = pq.read_table(path, columns=["text"]).column("text")

    m = config.min_shingles
    eligible = np.fromiter(
        (m <= 0 or len(t.split(None, m - 1)) >= m for t in texts.to_pylist()), dtype=bool, count=n
    ) if m > 0 else np.ones(n, dtype=bool)
    exact = _exact_pairs(classes)
    candidates = band_candidates(signatures, config.bands, config.rows, eligible=eligible)
    n_workers = default_workers() if workers is None else max(1, workers)

    def shingle_sets(rows: np.ndarray) -> ShingleSets:
        batch = 4000
        chunks = [rows[k : k + batch] for k in range(0, len(rows), batch)]
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        if len(rows) > 2 * batch and n_workers > 1:
            with process_pool(n_workers) as pool:
                futures = [
                    pool.submit(unique_shingles_of_texts, texts.take(chunk).to_pylist(), minhash.shingle_size)
                    for chunk in chunks[: 2 * n_workers]
                ]
                for k in range(len(chunks)):
                    parts.append(futures[k].result())
                    if k + 2 * n_workers < len(chunks):
                        chunk = chunks[k + 2 * n_workers]
                        futures.append(pool.submit(unique_shingles_of_texts, texts.take(chunk).to_pylist(),
                                                   minhash.shingle_size))
                    if progress is not None:
                        progress("duplicates", min((k + 1) * batch, len(rows)), len(rows))
        else:
            parts = [unique_shingles_of_texts(texts.take(chunk).to_pylist(), minhash.shingle_size) for chunk in chunks]
        values = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype=np.uint32)
        lengths = np.concatenate([np.diff(p[1]) for p in parts]) if parts else np.empty(0, dtype=np.int64)
        return ShingleSets(rows, values, np.concatenate(([0], np.cumsum(lengths))).astype(np.int64))

    sets = shingle_sets(np.unique(candidates))
    near, _ = verify_pairs(
        candidates,
        sets,
        config.jaccard_threshold,
        config.containment_threshold,
        min_containment_shingles=config.min_containment_shingles,
        min_length_ratio=config.min_length_ratio,
    )
    groups = group_duplicates(n, near, ids, published, classes=classes)

    canonical = groups.canonical
    is_canonical = canonical == np.arange(n)
    same_content = classes == classes[canonical]
    near_rows = np.flatnonzero(~is_canonical & ~same_content)
    pairs = np.stack([near_rows, canonical[near_rows]], axis=1)
    missing = np.setdiff1d(np.unique(pairs), sets.docs)
    if len(missing):
        extra = shingle_sets(missing)
        merged = np.concatenate([sets.docs, extra.docs])
        order = np.argsort(merged, kind="stable")
        lengths = np.concatenate([np.diff(sets.offsets), np.diff(extra.offsets)])[order]
        starts = np.concatenate([sets.offsets[:-1], extra.offsets[:-1] + len(sets.values)])[order]
        pooled = np.concatenate([sets.values, extra.values])
        index = np.concatenate([np.arange(s, s + k) for s, k in zip(starts.tolist(), lengths.tolist(), strict=True)])
        sets = ShingleSets(merged[order], pooled[index.astype(np.int64)] if len(index) else pooled[:0],
                           np.concatenate(([0], np.cumsum(lengths))).astype(np.int64))
    similarity = np.ones(n, dtype=np.float32)
    similarity[near_rows] = _jaccard(pairs, sets)
    method = np.where(is_canonical, "canonical", np.where(same_content, "exact", "near"))
    table = pa.table(
        {
            "article_id": id_column,
            "dup_group_id": pc.take(id_column, pa.array(canonical)),
            "is_canonical": pa.array(is_canonical),
            "similarity": pa.array(similarity),
            "method": pa.array(method.tolist(), type=pa.string()),
        }
    )
    write_table(table, work / DEDUP, _DEDUP)
    counts = {
        "documents": n,
        "exact_pairs": len(exact),
        "lsh_candidates": len(candidates),
        "verified_near_pairs": len(near),
        "groups": groups.n_groups,
        "duplicates": int(n - int(is_canonical.sum())),
    }
    return StageResult("duplicates", work / DEDUP, counts, time.perf_counter() - start)


def _exact_pairs(classes: np.ndarray) -> np.ndarray:
    """``(first, later)`` index pairs of documents with equal content (``classes`` from its hash)."""
    classes = np.asarray(classes)
    _, first = np.unique(classes, return_index=True)
    leader = np.empty(int(classes.max()) + 1 if len(classes) else 0, dtype=np.int64)
    leader[classes[first]] = first
    later = np.setdiff1d(np.arange(len(classes)), first)
    return np.stack([leader[classes[later]], later], axis=1).astype(np.int64).reshape(-1, 2)


def _jaccard(pairs: np.ndarray, sets: Any) -> list[float]:
    """Exact shingle Jaccard of each pair (4 decimals; 0.0 when a set is empty)."""
    from dedup.duplicates import pair_intersections

    if not len(pairs):
        return []
    rows = sets.rows(pairs)
    sizes = np.diff(sets.offsets)
    size_a, size_b = sizes[rows[:, 0]], sizes[rows[:, 1]]
    inter = pair_intersections(rows, sets.values, sets.offsets)
    return [
        round(i / (a + b - i), 4) if a and b else 0.0
        for i, a, b in zip(inter.tolist(), size_a.tolist(), size_b.tolist(), strict=True)
    ]


def group_events(work: Path, cluster: ClusterConfig, summary: SummaryConfig) -> StageResult:
    """Cluster canonical articles into events and describe each cluster.

    Duplicates join their canonical article's cluster. Writes ``events.parquet`` (article to
    cluster) and ``clusters.parquet`` (one described row per cluster).
    """
    start = time.perf_counter()
    docs = read_table(work / DOCUMENTS, schema.DOCUMENTS)
    dedup = read_table(work / DEDUP, _DEDUP)
    ids = docs.column("article_id").to_pylist()
    canon = np.flatnonzero(np.asarray(dedup.column("is_canonical").to_numpy(zero_copy_only=False), dtype=bool))
    published_all = docs.column("published_at").to_pylist()
    sources_all = docs.column("source").to_pylist()
    canonical = docs.take(pa.array(canon, type=pa.int64()))
    titles = canonical.column("title").to_pylist()
    texts = canonical.column("text").to_pylist()
    datelines = canonical.column("dateline").to_pylist()
    published = [published_all[i] for i in canon]
    canon_ids = [ids[i] for i in canon]
    canon_sources = [sources_all[i] for i in canon]

    counts = count_features(titles, texts, datelines, lead_sentences=cluster.lead_sentences)
    epoch = np.array([_timestamp(v) for v in published], dtype=np.float64)
    labels = cluster_events(counts, epoch, cluster)
    body = tfidf(counts.blocks[0], local=False)

    # Every document, by the position of its canonical article among the canonical ones.
    position = {row: k for k, row in enumerate(canon.tolist())}
    index_of = {article_id: i for i, article_id in enumerate(ids)}
    copies_of: dict[int, list[int]] = {}
    for i, group in enumerate(dedup.column("dup_group_id").to_pylist()):
        copies_of.setdefault(position[index_of[group]], []).append(i)
    members_of: dict[int, list[int]] = {}
    for k, label in enumerate(labels.tolist()):
        members_of.setdefault(label, []).append(k)

    cluster_rows = []
    assignment = [""] * len(ids)
    for members in members_of.values():
        everyone = sorted((i for k in members for i in copies_of[k]), key=lambda i: ids[i])
        cid = cluster_id([ids[i] for i in everyone])
        for i in everyone:
            assignment[i] = cid
        described = summarize_cluster(
            members,
            titles=titles,
            texts=texts,
            sources=canon_sources,
            datelines=datelines,
            published=published,
            article_ids=canon_ids,
            body=body,
            vocabulary=counts.vocabularies[0],
            entity_names=top_entities([counts.entities[k] for k in members], 10),
            min_sentences=summary.min_sentences,
            max_sentences=summary.max_sentences,
            top_terms=summary.top_terms,
            redundancy=summary.redundancy,
        )
        dates = sorted(d for d in (published_all[i] for i in everyone) if d is not None)
        cluster_rows.append(
            {
                "cluster_id": cid,
                "size": len(everyone),
                "n_canonical": len(members),
                "article_ids": [ids[i] for i in everyone],
                "representative_id": canon_ids[described.representative],
                "headline": described.headline,
                "summary": " ".join(described.sentences),
                "summary_sentences": described.sentences,
                "top_terms": described.top_terms,
                "entities": described.entities,
                "places": described.places,
                "sources": sorted({s for s in (sources_all[i] for i in everyone) if s}),
                "first_published": dates[0] if dates else None,
                "last_published": dates[-1] if dates else None,
                "cohesion": described.cohesion,
            }
        )
    cluster_rows.sort(key=lambda r: (-r["size"], r["cluster_id"]))
    write_table(
        pa.table({"article_id": ids, "cluster_id": assignment}, schema=_EVENTS), work / EVENTS, _EVENTS
    )
    write_table(cluster_rows, work / CLUSTERS, schema.CLUSTERS)
    result_counts = {
        "canonical_articles": len(canon),
        "clusters": len(cluster_rows),
        "singleton_clusters": sum(r["size"] == 1 for r in cluster_rows),
    }
    return StageResult("events", work / CLUSTERS, result_counts, time.perf_counter() - start)


def publish_outputs(work: Path, output: Path, report: RunReport) -> StageResult:
    """Join the stage files into the output tables and publish them into ``output`` together.

    The tables are written to ``work/publish`` and published by :func:`dedup.io.publish`:
    readers of ``output`` see the previous complete output until the new one is complete.
    Safe to retry: each attempt starts from the stage files again.
    """
    start = time.perf_counter()
    staging = work / "publish"
    if staging.exists():  # an earlier attempt that failed part way
        import shutil

        shutil.rmtree(staging)
    staging.mkdir()
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
    """A fresh work directory for one run: ``output/.work/<run-id>``.

    When this process holds the output's lock (:func:`dedup.io.output_lock`), what killed
    runs left behind is removed first; without the lock nothing else is touched.
    """
    try:
        output.mkdir(parents=True, exist_ok=True)
        if holds_lock(output):
            remove_stale(output)
        work = output / WORK_DIR / new_run_id()
        work.mkdir(parents=True)
    except OSError as exc:
        raise OutputError(f"cannot write to output directory {output}: {exc.strerror}") from exc
    return work


def run_pipeline(
    paths: Sequence[str | Path],
    output: str | Path,
    config: PipelineConfig | None = None,
    *,
    lock_timeout: float = 0.0,
) -> RunReport:
    """Run every stage on ``paths`` and publish into ``output``; return the counts.

    The run holds ``output``'s lock throughout: a second run on the same output waits up to
    ``lock_timeout`` seconds, then raises :class:`~dedup.errors.OutputError`. A run that fails
    leaves its work directory for inspection (the next run removes it) and the previous
    output untouched.

    >>> # run_pipeline(["data/articles"], "output")  # doctest: +SKIP
    """
    config = config or PipelineConfig()
    output = Path(output)
    with output_lock(output, timeout=lock_timeout):
        work = prepare_workdir(output)
        report = RunReport()
        report.add(ingest_articles(paths, work, config.ingest))
        report.add(compute_signatures(work, config.minhash))
        report.add(find_duplicates(work, config.minhash, config.duplicates))
        report.add(group_events(work, config.cluster, config.summary))
        report.add(publish_outputs(work, output, report))
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        if not any(work.parent.iterdir()):
            work.parent.rmdir()  # .work itself, once empty
    return report


def config_dict(config: PipelineConfig) -> dict[str, Any]:
    """Settings as plain data (for reports and artifacts)."""
    return asdict(config)
