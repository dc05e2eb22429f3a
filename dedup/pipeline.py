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

import contextlib
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedup import schema
from dedup.clean import clean_article
from dedup.cluster import cluster_events, cluster_id
from dedup.config import ClusterConfig, DuplicateConfig, IngestConfig, MinHashConfig, PipelineConfig, SummaryConfig
from dedup.duplicates import (
    band_candidates,
    group_duplicates,
    plausible_candidates,
    verify_candidates,
)
from dedup.errors import OutputError
from dedup.features import sorted_distinct, tfidf, top_entities_of_groups
from dedup.incremental import carry_cluster_ids
from dedup.ingest import read_inputs
from dedup.io import (
    ROW_GROUP_SIZE,
    WORK_DIR,
    holds_lock,
    new_run_id,
    output_lock,
    publish,
    read_scratch_rows,
    read_table,
    remove_stale,
    write_json,
    write_scratch,
    write_table,
)
from dedup.memory import release_memory
from dedup.records import RawArticle, Reject
from dedup.state import RUNS, run_time
from dedup.summarize import ClusterSummary
from dedup.text import copy_texts

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
CLUSTER_STATE = "cluster_state.parquet"
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
    history: Path | None = None,
) -> StageResult:
    """Read every input, clean each article, and write ``documents.parquet`` and ``rejects.parquet``.

    An article with no text left once its page furniture is removed is rejected too. With a
    ``history`` (a state directory, :func:`dedup.state.open_history`), articles seen before
    are left out: the same id with the same content is counted as ``already_seen``, the same
    id with other content is rejected.

    Articles are cleaned in batches, in worker processes once the input holds more than one
    batch (``workers``: default all CPUs); each cleaned batch is written to a file of its own
    where it was cleaned. While the batches follow each other in ``article_id`` order, the
    main process adds each to ``documents.parquet`` as it comes (:class:`_OrderedDocuments`),
    while the workers clean the next ones; otherwise :func:`_write_documents` puts their
    rows in order at the end. Memory is bounded by a few batches, the ids and the text
    sizes of all articles, and the window of texts that the ordering gathers at a time
    (``_ORDER_WINDOW_BYTES``).
    ``progress(stage, done, total)`` is called after each batch (``total`` is 0: unknown
    while reading).
    """
    import os
    from collections import deque

    from dedup.minhash import default_workers, process_pool

    start = time.perf_counter()
    batch_size = 1000
    n_workers = default_workers() if workers is None else max(1, workers)
    rejects: list[tuple[int, dict[str, Any]]] = []
    counts = {"read": 0, "accepted": 0, "rejected": 0, "noted": 0, "furniture_lines_removed": 0}
    parts: list[Path] = []  # the cleaned batches' files, in input order
    in_order = True
    last_id: str | None = None

    def absorb(batch: list[tuple[int, RawArticle]], cleaned: _CleanedBatch) -> None:
        nonlocal in_order, last_id
        for position in cleaned.empty:
            seq, raw = batch[position]
            reason = "no article text left after removing page furniture"
            rejects.append(
                (seq, {"input": raw.input, "record": raw.record, "article_id": raw.article_id, "reason": reason,
                       "dropped": True})
            )
            counts["rejected"] += 1
        counts["furniture_lines_removed"] += cleaned.removed
        if cleaned.n_rows:
            if not cleaned.ordered or (last_id is not None and cleaned.first_id < last_id):
                in_order = False
                ordered.abandon()
            last_id = cleaned.last_id
            parts.append(cleaned.part)
            if in_order:
                ordered.add(cleaned.part)
            counts["accepted"] += cleaned.n_rows
        if progress is not None:
            progress("ingest", counts["read"], 0)

    pool = None
    pending: deque[tuple[list[tuple[int, RawArticle]], Any]] = deque()
    batch: list[tuple[int, RawArticle]] = []
    tmp = work / f".{DOCUMENTS}.tmp"
    ordered = _OrderedDocuments(tmp)  # the documents file, written as batches come while they are in order

    def dispatch(batch: list[tuple[int, RawArticle]]) -> None:
        nonlocal pool
        if n_workers > 1 and pool is None and counts["read"] > batch_size:
            pool = process_pool(n_workers)
        part = work / f".documents.part-{counts['read']:012d}.arrow"  # articles read so far: unique
        if pool is None:
            absorb(batch, _clean_batch([raw for _, raw in batch], part))
            return
        pending.append((batch, pool.submit(_clean_columns, _raw_columns([raw for _, raw in batch]), str(part))))
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
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        ordered.close()

    if in_order:
        for part in parts:
            part.unlink()
    else:
        _write_documents(parts, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, work / DOCUMENTS)
    if history is not None:
        _skip_seen(work, history, rejects, counts)
    rejects.sort(key=lambda pair: pair[0])
    write_table([row for _, row in rejects], work / REJECTS, schema.REJECTS)
    return StageResult("ingest", work / DOCUMENTS, counts, time.perf_counter() - start)


_STRING_OFFSET_LIMIT = 2**31  # bytes that 32-bit string offsets address


def _contiguous(table: pa.Table) -> pa.Table:
    """``table`` as one chunk per column, its strings with 64-bit offsets when it holds
    2 GiB or more.

    Taking rows from a column of many chunks joins the chunks on every call, and the texts
    of a large batch can exceed the 2 GiB that 32-bit string offsets address; one contiguous
    copy serves every take.
    """
    if table.nbytes < _STRING_OFFSET_LIMIT:  # then no column's strings need 64-bit offsets
        return table.combine_chunks()
    wide = pa.schema(
        [f.with_type(pa.large_string()) if pa.types.is_string(f.type) else f for f in table.schema]
    )
    return table.cast(wide).combine_chunks()


# ``documents.parquet`` is the run's working copy of the cleaned articles (removed once the
# outputs are published, which are compressed): it is written uncompressed. Compressing it
# took longer than the stages that read it saved.
_DOCUMENTS_CODEC = "none"
# Rows per row group of ``documents.parquet`` when its rows are put in id order.
_DOCUMENTS_ROW_GROUP = 10_000
# Text bytes gathered from the part files at a time while putting rows in id order.
_ORDER_WINDOW_BYTES = 1 << 27


class _OrderedDocuments:
    """``documents.parquet`` written at ``path`` a cleaned batch's file at a time, for
    batches that come in id order, each as it is (one row group: a batch is smaller than
    ``_DOCUMENTS_ROW_GROUP``): :meth:`abandon` drops it when a batch breaks the order (then
    :func:`_write_documents` orders them all); :meth:`close` ends the file."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.writer: Any = pq.ParquetWriter(path, schema.DOCUMENTS, compression=_DOCUMENTS_CODEC)

    def add(self, part: Path) -> None:
        """Append the rows of the cleaned batch file ``part``."""
        self.writer.write_table(_read_part(part), row_group_size=_DOCUMENTS_ROW_GROUP)

    def abandon(self) -> None:
        """Stop writing and remove the file (the order is broken)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        """End the file (nothing when abandoned)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _write_documents(parts: Sequence[Path], path: Path) -> None:
    """Write the rows of the cleaned batches' files ``parts`` (Arrow IPC, in input order,
    each in id order, the batches not in id order among themselves: those that are go to
    :class:`_OrderedDocuments` as they come) to ``path`` (``documents.parquet``)
    ordered by ``article_id``; the parts are removed.

    The ids alone are sorted (byte order of UTF-8 is code point order, as Python sorts strings), and
    the sorted rows are written in row groups of ``_DOCUMENTS_ROW_GROUP`` rows, cut into
    windows of consecutive row groups: at least one each, and as many more as keep a
    window's texts within ``_ORDER_WINDOW_BYTES``. Each part is read once and its rows are
    spread over one file per window (:func:`_spool_windows`);
    then each window's file is read, its rows ordered and written. Row groups are compressed
    and written in a thread of their own while the next ones are gathered (both in Arrow,
    which leaves the interpreter free), at most a window's bytes of them waiting.
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    import pyarrow.parquet as pq

    with pq.ParquetWriter(path, schema.DOCUMENTS, compression=_DOCUMENTS_CODEC) as writer:
        if not parts:
            return
        starts, order, sizes = _id_order(parts)
        windows = _order_windows(sizes[order], _DOCUMENTS_ROW_GROUP, _ORDER_WINDOW_BYTES)
        window_of = np.empty(len(order), dtype=np.int64)
        for w, (first, stop) in enumerate(windows):
            window_of[order[first:stop]] = w
        spools = [path.with_name(f"{path.name}.window-{w:06d}.arrow") for w in range(len(windows))]
        _spool_windows(parts, starts, window_of, spools)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsdedup-documents") as thread:
            writing: deque[tuple[int, Future[None]]] = deque()  # row groups being written, and their bytes
            waiting = 0
            for (first, stop), spool in zip(windows, spools, strict=True):
                with pa.memory_map(str(spool)) as source:  # read in place, then joined once
                    window = _contiguous(pa.ipc.open_file(source).read_all())  # its rows in row-number order
                spool.unlink()
                at = np.searchsorted(np.sort(order[first:stop]), order[first:stop])  # each sorted row in it
                for k in range(0, len(at), _DOCUMENTS_ROW_GROUP):
                    group = window.take(pa.array(at[k : k + _DOCUMENTS_ROW_GROUP])).cast(schema.DOCUMENTS)
                    while writing and waiting + group.nbytes > _ORDER_WINDOW_BYTES:
                        size, future = writing.popleft()
                        future.result()
                        waiting -= size
                    writing.append((group.nbytes, thread.submit(writer.write_table, group,
                                                                row_group_size=_DOCUMENTS_ROW_GROUP)))
                    waiting += group.nbytes
                del window
                pa.default_memory_pool().release_unused()  # the next window is as large: do not hold two
            for _, future in writing:
                future.result()


def _write_part(table: pa.Table, part: Path) -> None:
    """Write a cleaned batch's rows to ``part`` as an uncompressed Arrow IPC file."""
    with pa.OSFile(str(part), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_part(part: Path) -> pa.Table:
    """The rows of an Arrow IPC file (read into memory)."""
    with pa.OSFile(str(part)) as source:
        return pa.ipc.open_file(source).read_all()


def _id_order(parts: Sequence[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of ``parts`` numbered one part after the other: the first row number of
    each part (and the total at the end), the row numbers in ``article_id`` order, and each
    row's text size in bytes. Only the ids and the texts' offsets are read."""
    ids: list[pa.Array] = []
    sizes: list[np.ndarray] = []
    for part in parts:
        with pa.memory_map(str(part)) as source:
            table = pa.ipc.open_file(source).read_all()
        ids.append(pa.concat_arrays(table.column("article_id").chunks))  # a copy: the map goes with the table
        sizes.append(pc.binary_length(table.column("text")).to_numpy().astype(np.int64))
        del table
    starts = np.concatenate(([0], np.cumsum([len(a) for a in ids]))).astype(np.int64)
    order = pc.sort_indices(pa.chunked_array(ids, type=pa.string())).to_numpy().astype(np.int64)
    return starts, order, np.concatenate(sizes)


def _order_windows(sizes: np.ndarray, row_group: int, budget: int) -> list[tuple[int, int]]:
    """``(first, stop)`` of consecutive windows over rows of ``sizes`` bytes each: every
    window is whole row groups of ``row_group`` rows (the last may be shorter), at least one,
    and as many as keep its bytes within ``budget``."""
    n = len(sizes)
    bounds = np.arange(0, n, row_group)
    ends = np.concatenate(([0], np.cumsum(sizes)))
    windows, first = [], 0
    while first < n:
        stops = np.append(bounds[bounds > first], n)
        fits = np.flatnonzero(ends[stops] - ends[first] <= budget)
        stop = int(stops[fits[-1]]) if len(fits) else int(stops[0])
        windows.append((first, stop))
        first = stop
    return windows


def _spool_windows(parts: Sequence[Path], starts: np.ndarray, window_of: np.ndarray, spools: Sequence[Path]) -> None:
    """Append the rows of each part, read one at a time and then removed, to the file of
    their window (``spools[window_of[row]]``, Arrow IPC): a window's file holds its rows
    part by part, each part's in the part's order."""
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(pa.ipc.new_file(stack.enter_context(pa.OSFile(str(spool), "wb")),
                                                       schema.DOCUMENTS)) for spool in spools]
        for p, part in enumerate(parts):
            table = _read_part(part)
            target = window_of[starts[p] : starts[p + 1]]
            grouped = np.argsort(target, kind="stable")
            bounds = np.searchsorted(target[grouped], np.arange(len(spools) + 1))
            for w in np.flatnonzero(np.diff(bounds)).tolist():
                local = grouped[bounds[w] : bounds[w + 1]]
                consecutive = local[-1] - local[0] + 1 == len(local)  # always, for a part in id order
                writers[w].write_table(table.slice(int(local[0]), len(local)) if consecutive
                                       else table.take(pa.array(local)))
            part.unlink()


def _skip_seen(work: Path, history: Path, rejects: list[tuple[int, dict[str, Any]]], counts: dict[str, int]) -> None:
    """Drop the documents whose id the history holds; reject those whose content changed."""
    import pyarrow.parquet as pq

    seen = pq.read_table(history / "documents.parquet", columns=["article_id", "content_hash", "first_seen_run"])
    known = {
        a: (h, r)
        for a, h, r in zip(
            seen.column("article_id").to_pylist(),
            seen.column("content_hash").to_pylist(),
            seen.column("first_seen_run").to_pylist(),
            strict=True,
        )
    }
    counts["already_seen"] = 0
    if not known:
        return
    columns = ["article_id", "content_hash", "input", "record"]
    docs = pq.read_table(work / DOCUMENTS, columns=columns)
    keep = []
    tail = len(rejects) + 10**12  # after every reject of the inputs, in document order
    for k, (a, h, where, record) in enumerate(zip(*(docs.column(c).to_pylist() for c in columns), strict=True)):
        if a not in known:
            keep.append(k)
        elif known[a][0] == h:
            counts["already_seen"] += 1
        else:
            reason = (f"article id {a!r} was published before (run {known[a][1]}) with other text; "
                      "the earlier text is kept: give a changed article a new id")
            rejects.append((tail + k, {"input": where, "record": record, "article_id": a, "reason": reason,
                                       "dropped": True}))
            counts["rejected"] += 1
    if len(keep) < docs.num_rows:
        _keep_rows(work / DOCUMENTS, np.asarray(keep, dtype=np.int64))
        counts["accepted"] = len(keep)


def _keep_rows(path: Path, keep: np.ndarray) -> None:
    """Rewrite the documents file ``path`` with only its rows ``keep`` (sorted row numbers),
    a row group at a time, in row groups of :data:`dedup.io.ROW_GROUP_SIZE` rows as
    :func:`dedup.io.write_table` writes them; the new file replaces the old one whole."""
    import os

    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pending: list[pa.Table] = []
    first = 0
    with pq.ParquetWriter(tmp, schema.DOCUMENTS, compression=_DOCUMENTS_CODEC) as writer:
        for g in range(parquet.num_row_groups):
            stop = first + parquet.metadata.row_group(g).num_rows
            rows = keep[np.searchsorted(keep, first) : np.searchsorted(keep, stop)] - first
            first = stop
            if len(rows):
                pending.append(parquet.read_row_group(g).take(pa.array(rows)).cast(schema.DOCUMENTS))
            while sum(t.num_rows for t in pending) >= ROW_GROUP_SIZE:
                rest = pa.concat_tables(pending)
                writer.write_table(rest.slice(0, ROW_GROUP_SIZE), row_group_size=ROW_GROUP_SIZE)
                pending = [rest.slice(ROW_GROUP_SIZE)]
        rest = pa.concat_tables(pending) if pending else schema.DOCUMENTS.empty_table()
        if rest.num_rows or not len(keep):  # no rows at all: one empty row group, as write_table writes
            writer.write_table(rest, row_group_size=ROW_GROUP_SIZE)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class _CleanedBatch:
    """A batch of articles cleaned: the file holding the ``documents.parquet`` rows of those
    with text left (in id order; not written without rows), their number, the batch
    positions of those without, the furniture lines removed from the rows' articles, and,
    in batch order, the rows' first and last ids ("" without rows) and whether the batch
    was in id order already."""

    part: Path
    n_rows: int
    empty: list[int]
    removed: int
    first_id: str
    last_id: str
    ordered: bool


_RAW_FIELDS = ("article_id", "text", "input", "record", "title", "published_at", "source", "url", "byline")


def _raw_columns(raws: Sequence[RawArticle]) -> tuple[list[Any], ...]:
    """The articles as one list per field, in ``_RAW_FIELDS`` order: much cheaper to send to a
    worker process than the objects."""
    return tuple([getattr(raw, name) for raw in raws] for name in _RAW_FIELDS)


def _clean_columns(columns: tuple[list[Any], ...], part: str) -> _CleanedBatch:
    """:func:`_clean_batch` of articles given as :func:`_raw_columns` (a unit of parallel work)."""
    return _clean_batch([RawArticle(*values) for values in zip(*columns, strict=True)], Path(part))


def _clean_batch(raws: Sequence[RawArticle], part: Path) -> _CleanedBatch:
    """Clean each article and write the ``documents.parquet`` rows of those with text left,
    ordered by id, to ``part`` (:func:`_write_part`)."""
    cleaned = [clean_article(raw) for raw in raws]
    empty = [k for k, article in enumerate(cleaned) if article.n_words == 0]
    kept = [article for article in cleaned if article.n_words != 0] if empty else cleaned
    ids = [article.article_id for article in kept]
    ordered = ids == sorted(ids)
    if kept:
        rows = kept if ordered else sorted(kept, key=lambda article: article.article_id)
        columns = {name: [getattr(article, name) for article in rows] for name in schema.DOCUMENTS.names}
        _write_part(pa.Table.from_pydict(columns, schema=schema.DOCUMENTS), part)
    return _CleanedBatch(
        part=part,
        n_rows=len(kept),
        empty=empty,
        removed=sum(article.removed_lines for article in kept),
        first_id=ids[0] if ids else "",
        last_id=ids[-1] if ids else "",
        ordered=ordered,
    )


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


def compute_signatures(
    work: Path,
    config: MinHashConfig,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int | None = None,
) -> StageResult:
    """MinHash signature of every document (``signatures.parquet``, settings in its metadata),
    and every document's exact shingle set (``shingle_sets.arrow``, next to its content
    hash) for the duplicates stage to verify candidates without reading texts again.

    Row groups of ``documents.parquet`` are the units of work, spread over ``workers``
    processes (default all CPUs) when there are several; results keep the document order
    and are written as they come, so memory holds a few row groups' results, not all.
    ``progress(stage, done, total)`` is called per row group with documents done and total.
    """
    import pyarrow.parquet as pq

    from dedup.minhash import SHINGLE_SETS, ShingleSetsWriter, default_workers

    start = time.perf_counter()
    path = work / DOCUMENTS
    n_docs = pq.ParquetFile(path).metadata.num_rows
    ids_and_hashes = pq.read_table(path, columns=["article_id", "content_hash"])
    ids, hashes = ids_and_hashes.column("article_id"), ids_and_hashes.column("content_hash")
    n_workers = default_workers() if workers is None else max(1, workers)
    sig_schema = schema.signature_schema(config.num_perm, config.metadata())
    done = 0
    with (_SignaturesWriter(work / SIGNATURES, sig_schema) as signatures,
          ShingleSetsWriter(work / SHINGLE_SETS, config.shingle_size) as sets):
        for sketch, values, offsets in _sketches(path, config, n_workers if n_docs >= 5_000 else 1):
            signatures.write(ids.slice(done, len(sketch)), sketch)
            sets.write(hashes.slice(done, len(sketch)), values, offsets)
            done += len(sketch)
            if progress is not None:
                progress("signatures", done, n_docs)
    return StageResult("signatures", work / SIGNATURES, {"documents": n_docs}, time.perf_counter() - start)


def _sketches(path: Path, config: MinHashConfig, workers: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`dedup.minhash.sketch_row_groups` of each row group of the documents file
    ``path``, in order; in ``workers`` processes when there are several and more than one
    row group, with at most two row groups per process under way."""
    import pyarrow.parquet as pq

    from dedup.minhash import in_order, process_pool, sketch_row_groups

    n_groups = pq.ParquetFile(path).num_row_groups
    args = (config.num_perm, config.shingle_size, config.seed)
    if workers < 2 or n_groups < 2:
        for g in range(n_groups):
            yield sketch_row_groups(str(path), [g], *args)
        return
    with process_pool(workers) as pool:
        yield from in_order(pool, sketch_row_groups, ((str(path), [g], *args) for g in range(n_groups)), 2 * workers)


class _SignaturesWriter:
    """Writes ``signatures.parquet`` a batch of documents at a time, in row groups of
    :data:`dedup.io.ROW_GROUP_SIZE` rows (one empty row group without documents), as
    :func:`dedup.io.write_table` does; the file takes its name, flushed to disk, when the
    writer is closed without error."""

    def __init__(self, path: Path, sig_schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.path, self.tmp, self.schema = path, path.with_name(f".{path.name}.tmp"), sig_schema
        self.writer = pq.ParquetWriter(self.tmp, sig_schema, compression="zstd")
        self.ids: list[pa.ChunkedArray] = []
        self.rows: list[np.ndarray] = []
        self.written = 0

    def write(self, ids: pa.ChunkedArray, signatures: np.ndarray) -> None:
        """Append documents: ``ids[i]`` has the signature ``signatures[i]``."""
        self.ids.append(ids)
        self.rows.append(signatures)
        while sum(len(r) for r in self.rows) >= ROW_GROUP_SIZE:
            self._flush(ROW_GROUP_SIZE)

    def _flush(self, count: int) -> None:
        """Write the first ``count`` documents held as one row group."""
        ids = pa.chunked_array([c for part in self.ids for c in part.chunks], type=pa.string())
        num_perm = self.schema.field("signature").type.list_size
        rows = np.concatenate(self.rows) if self.rows else np.empty((0, num_perm), dtype=np.uint32)
        flat = pa.array(rows[:count].reshape(-1), type=pa.uint32())
        table = pa.Table.from_arrays([ids.slice(0, count), pa.FixedSizeListArray.from_arrays(flat, num_perm)],
                                     schema=self.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
        self.written += count
        self.ids, self.rows = [ids.slice(count)], [rows[count:]]

    def __enter__(self) -> _SignaturesWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        import os

        held = sum(len(r) for r in self.rows)
        if kind is None and (held or not self.written):
            self._flush(held)
        self.writer.close()
        if kind is not None:
            self.tmp.unlink(missing_ok=True)
            return
        with open(self.tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self.tmp, self.path)


def find_duplicates(
    work: Path,
    minhash: MinHashConfig,
    config: DuplicateConfig,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int | None = None,
    history: Path | None = None,
) -> StageResult:
    """Group exact and near-duplicate documents; choose each group's canonical article.

    With a non-empty ``history`` (a state directory), the documents are checked against
    every article seen before as well (:func:`_find_duplicates_with_history`).

    Writes ``dedup.parquet``: every document with its group's canonical id, whether it is
    the canonical one, and its similarity to the canonical article.

    LSH candidates whose signatures agree too little for the pair to pass verification are
    dropped (:func:`dedup.duplicates.plausible_pairs`); the rest are verified on the exact
    shingle sets the signatures stage stored, ``_VERIFY_PAIRS`` at a time. Without that
    file (signatures made elsewhere), the texts of the candidates are read back and shingled
    instead (in ``workers`` processes when there are many), and ``progress(stage, done,
    total)`` is called per batch of them. Texts are read back by row (:class:`_Texts`),
    never all at once.
    """
    import pyarrow.parquet as pq

    if history is not None and pq.read_metadata(history / "documents.parquet").num_rows:
        return _find_duplicates_with_history(work, history, minhash, config)
    start = time.perf_counter()
    path = work / DOCUMENTS
    docs = pq.read_table(path, columns=["article_id", "content_hash", "published_at", "n_words", "title"])
    # The event fields of every document, copied while the candidates are found: verification
    # reads texts from the copy, and the events stage takes the canonical articles from it.
    texts = _Texts(path, work / _DOCUMENT_COPY, columns=_EVENT_COLUMNS, keep=True)
    texts.start()
    try:
        return _find_duplicates_of(work, docs, texts, minhash, config, workers, progress, start)
    finally:
        texts.close()


def _find_duplicates_of(work: Path, docs: pa.Table, texts: _Texts, minhash: MinHashConfig, config: DuplicateConfig,
                        workers: int | None, progress: Callable[[str, int, int], None] | None, start: float
                        ) -> StageResult:
    """:func:`find_duplicates` of the documents ``docs`` (without history), their texts in ``texts``."""
    from dedup.duplicates import ShingleSets
    from dedup.minhash import SHINGLE_SETS, default_workers, read_shingles

    n = docs.num_rows
    id_column = docs.column("article_id")
    ids = id_column.to_pylist()
    published = _epoch_seconds(docs.column("published_at"))
    classes = pc.dictionary_encode(docs.column("content_hash")).combine_chunks().indices.to_numpy().astype(np.int64)
    signatures = _read_signatures(work / SIGNATURES, n, minhash.num_perm)

    eligible = _lsh_eligible(_copy_words(docs), config.min_shingles)
    n_exact_copies = n - len(np.unique(classes))
    candidates = band_candidates(signatures, config.bands, config.rows, eligible=eligible)
    n_candidates = len(candidates)
    stored = read_shingles(work / SHINGLE_SETS, docs.column("content_hash"), minhash.shingle_size)
    plausible = plausible_candidates(candidates, signatures, np.diff(stored[1]) if stored is not None else None,
                                     config)
    del candidates
    n_workers = default_workers() if workers is None else max(1, workers)

    def shingle_sets(rows: np.ndarray) -> ShingleSets:
        if stored is not None:
            return ShingleSets(np.arange(n, dtype=np.int64), *stored)
        return _shingle_sets_of(texts, rows, minhash.shingle_size, workers=n_workers, progress=progress)

    sets = shingle_sets(np.unique(plausible))
    near, strong = _verify_in_chunks(plausible, sets, config, texts, minhash.shingle_size)
    groups = group_duplicates(n, near, ids, published, classes=classes, strong=strong)

    canonical = groups.canonical
    is_canonical = canonical == np.arange(n)
    same_content = classes == classes[canonical]
    near_rows = np.flatnonzero(~is_canonical & ~same_content)
    pairs = np.stack([near_rows, canonical[near_rows]], axis=1)
    missing = np.setdiff1d(np.unique(pairs), sets.docs)
    if len(missing):
        sets = _joined_sets(sets, shingle_sets(missing))
    similarity = np.ones(n, dtype=np.float32)
    similarity[near_rows] = _jaccard(pairs, sets)
    method = np.where(is_canonical, "canonical", np.where(same_content, "exact", "near"))
    _write_dedup(work, id_column, pc.take(id_column, pa.array(canonical)), is_canonical, similarity, method.tolist())
    counts = {
        "documents": n,
        "exact_copies": n_exact_copies,
        "lsh_candidates": n_candidates,
        "plausible_pairs": len(plausible),
        "verified_near_pairs": len(near),
        "groups": groups.n_groups,
        "duplicates": int(n - int(is_canonical.sum())),
    }
    return StageResult("duplicates", work / DEDUP, counts, time.perf_counter() - start)


# Candidate pairs verified at a time: bounds the texts and shingle sequences that the
# order-aware check of a step holds. Two steps at once in threads were 10 s faster at
# 1,000,000 articles, but raised the stage's peak memory from about 6 to 7.6 GiB; two steps
# of 100,000 at once still peaked at 7.7 GiB (0.6 s faster at 100,000 articles), and two of
# 50,000 at 6.7 GiB, no faster than one step of 200,000 (58.5 s against 58.9 s).
_VERIFY_PAIRS = 200_000


def _verify_in_chunks(pairs: np.ndarray, sets: Any, config: DuplicateConfig,
                      texts_of: Callable[[np.ndarray], list[str]], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~dedup.duplicates.verify_candidates` of ``pairs``, ``_VERIFY_PAIRS`` at a time
    (each pair is decided on its own, so the result is the same as at once). The pairs'
    intersection bounds are computed once for all: a document's bucket map, not the pairs
    of a step, is what they cost."""
    from dedup.duplicates import intersection_bounds

    if len(pairs) <= _VERIFY_PAIRS:
        return verify_candidates(pairs, sets, config, texts_of, shingle_size)
    bounds = intersection_bounds(sets.rows(pairs), sets.values, sets.offsets)
    steps = [verify_candidates(pairs[k : k + _VERIFY_PAIRS], sets, config, texts_of, shingle_size,
                               bounds=bounds[k : k + _VERIFY_PAIRS])
             for k in range(0, len(pairs), _VERIFY_PAIRS)]
    return np.concatenate([near for near, _ in steps]), np.concatenate([strong for _, strong in steps])


class _Texts:
    """The texts near-duplicate detection compares (:func:`dedup.text.copy_text`) of a
    documents file by row number, without holding them all.

    The title and text columns, and the further ``columns``, are copied, row group by row
    group, to the uncompressed scratch file ``scratch`` (:func:`dedup.io.write_scratch`) in a
    thread of its own: on first use, or ahead of it once :meth:`start` is called (reading and
    writing Arrow data leaves the interpreter free for the caller's work meanwhile). Calling
    the object with rows reads just those texts back. :meth:`close` removes the file, unless it is to be
    kept (``keep``) and was written.
    """

    def __init__(self, documents: Path, scratch: Path, *, columns: Sequence[str] = (),
                 keep: bool = False) -> None:
        import threading

        self.documents, self.scratch, self.keep = documents, scratch, keep
        self.columns = list(dict.fromkeys(["title", "text", *columns]))
        self.writing: Any = None  # the copy under way or done, a Future
        self.starting = threading.Lock()  # callers in several threads start one copy

    def start(self) -> None:
        """Start copying the texts to the scratch file in a thread, if not started yet."""
        from concurrent.futures import ThreadPoolExecutor

        with self.starting:
            if self.writing is None:
                thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsdedup-scratch")
                self.writing = thread.submit(self._write)
                thread.shutdown(wait=False)  # the copy goes on; the thread ends with it

    def _write(self) -> None:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(self.documents)
        write_scratch((parquet.read_row_group(g, columns=self.columns) for g in range(parquet.num_row_groups)),
                      pa.schema([parquet.schema_arrow.field(c) for c in self.columns]), self.scratch)

    def __call__(self, rows: np.ndarray) -> list[str]:
        self.start()
        self.writing.result()
        table = read_scratch_rows(self.scratch, rows, ["title", "text"])
        return copy_texts(table.column("title").to_pylist(), table.column("text").to_pylist())

    def close(self) -> None:
        """Remove the scratch file, unless it is kept and written (once a copy under way has
        ended; a later call writes it again)."""
        written = False
        if self.writing is not None:
            try:
                self.writing.result()
                written = True
            except Exception:  # a failed copy: nothing to keep
                pass
        if not (self.keep and written):
            self.scratch.unlink(missing_ok=True)
        self.writing = None


def _write_dedup(work: Path, article_ids: Any, group_ids: Any, is_canonical: Any, similarity: Any, method: Any) -> None:
    """Write ``dedup.parquet``: each document, its group's canonical id, and how it was found."""
    columns = {
        "article_id": article_ids,
        "dup_group_id": group_ids,
        "is_canonical": is_canonical,
        "similarity": similarity,
        "method": method,
    }
    table = pa.table({k: v if isinstance(v, pa.ChunkedArray) else pa.array(v) for k, v in columns.items()})
    write_table(table, work / DEDUP, _DEDUP)


def _epoch_seconds(column: pa.ChunkedArray) -> list[float | None]:
    micros = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
    dated = pc.is_valid(column).to_numpy(zero_copy_only=False)
    return [float(us) / 1e6 if ok else None for us, ok in zip(micros.tolist(), dated.tolist(), strict=True)]


def _shingle_sets_of(texts_of: Callable[[np.ndarray], list[str]], rows: np.ndarray, shingle_size: int, *,
                     workers: int = 1, progress: Callable[[str, int, int], None] | None = None) -> Any:
    """Exact shingle sets of the documents ``rows`` (sorted, unique), from their texts
    (``texts_of(rows)``), read and shingled 4,000 at a time; with ``workers`` > 1 and more
    than two such steps, in worker processes, a few steps ahead of the results."""
    from dedup.duplicates import ShingleSets
    from dedup.minhash import in_order, process_pool, unique_shingles_of_texts

    rows = np.unique(np.asarray(rows, dtype=np.int64))
    batch = 4000
    chunks = [rows[k : k + batch] for k in range(0, len(rows), batch)]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    if len(chunks) > 2 and workers > 1:
        with process_pool(workers) as pool:
            arguments = ((texts_of(chunk), shingle_size) for chunk in chunks)
            for k, part in enumerate(in_order(pool, unique_shingles_of_texts, arguments, 2 * workers)):
                parts.append(part)
                if progress is not None:
                    progress("duplicates", min((k + 1) * batch, len(rows)), len(rows))
    else:
        parts = [unique_shingles_of_texts(texts_of(chunk), shingle_size) for chunk in chunks]
    values = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype=np.uint32)
    sizes = np.concatenate([np.diff(p[1]) for p in parts]) if parts else np.empty(0, dtype=np.int64)
    return ShingleSets(rows, values, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))


def _joined_sets(sets: Any, extra: Any) -> Any:
    """The shingle sets of the documents of two :class:`~dedup.duplicates.ShingleSets`
    (no document in both), in document order."""
    from dedup.duplicates import ShingleSets
    from dedup.minhash import copy_spans

    docs = np.concatenate([sets.docs, extra.docs])
    order = np.argsort(docs, kind="stable")
    lengths = np.concatenate([np.diff(sets.offsets), np.diff(extra.offsets)])[order]
    starts = np.concatenate([sets.offsets[:-1], extra.offsets[:-1] + len(sets.values)])[order]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    values = np.empty(int(offsets[-1]), dtype=sets.values.dtype)
    copy_spans(np.concatenate([sets.values, extra.values]), starts, lengths, values, offsets[:-1])
    return ShingleSets(docs[order], values, offsets)


def _read_texts(path: Path, ids: Sequence[str]) -> dict[str, str]:
    """The texts near-duplicate detection compares (:func:`dedup.text.copy_text`) of the
    articles ``ids`` in a documents file (only their rows are read)."""
    import pyarrow.parquet as pq

    if not len(ids):
        return {}
    table = pq.read_table(path, columns=["article_id", "title", "text"], filters=[("article_id", "in", list(ids))])
    texts = copy_texts(table.column("title").to_pylist(), table.column("text").to_pylist())
    return dict(zip(table.column("article_id").to_pylist(), texts, strict=True))


def _find_duplicates_with_history(work: Path, history: Path, minhash: MinHashConfig, config: DuplicateConfig
                                  ) -> StageResult:
    """Duplicates among the new documents and against every article seen before.

    Earlier groups stay as they are: their canonical article stays canonical, and a new
    document joins an earlier group only when verified against its canonical article or
    against a new document that joined it (:func:`~dedup.duplicates.group_duplicates`:
    strays and groups joined by Jaccard; earlier articles never move). A new
    document with the content of an earlier one joins that one's group (exact). Otherwise
    LSH candidates are proposed between new documents and earlier canonical ones (and among
    new ones) from the stored signatures; only the earlier texts of candidates are read back
    to verify them exactly (those whose signatures agree too little to pass are dropped
    first). Writes ``dedup.parquet`` for the new documents.
    """
    import pyarrow.parquet as pq


    start = time.perf_counter()
    docs = pq.read_table(work / DOCUMENTS, columns=["article_id", "content_hash", "published_at", "n_words", "title"])
    new_ids = docs.column("article_id").to_pylist()
    new_hash = docs.column("content_hash").to_pylist()
    new_texts = _Texts(work / DOCUMENTS, work / ".texts.arrow")
    new_published = _epoch_seconds(docs.column("published_at"))
    new_sigs = _read_signatures(work / SIGNATURES, len(new_ids), minhash.num_perm)
    old = pq.read_table(
        history / "documents.parquet",
        columns=["article_id", "content_hash", "published_at", "n_words", "title", "dup_group_id", "is_canonical",
                 "similarity", "method"],
    )
    old_ids = old.column("article_id").to_pylist()
    # Content seen before: the earlier article's group, the canonical article's content first.
    by_hash: dict[str, tuple[str, float, str]] = {}
    for a, h, g, canon, sim, method in zip(
        old_ids, *(old.column(c).to_pylist() for c in ("content_hash", "dup_group_id", "is_canonical", "similarity",
                                                        "method")), strict=True
    ):
        if canon:
            by_hash[h] = (a, 1.0, "exact")
        else:
            by_hash.setdefault(h, (g, sim, method))
    n_new = len(new_ids)
    group = [""] * n_new
    canonical = np.zeros(n_new, dtype=bool)
    similarity = np.ones(n_new, dtype=np.float32)
    method = ["canonical"] * n_new
    rest = []
    for k, h in enumerate(new_hash):
        if h in by_hash:
            group[k], similarity[k], method[k] = by_hash[h]
        else:
            rest.append(k)
    n_exact_history = n_new - len(rest)

    # Universe: earlier canonical articles first (in canonical order), then the remaining new ones.
    canon_rows = np.flatnonzero(np.asarray(old.column("is_canonical").to_numpy(zero_copy_only=False), dtype=bool))
    old_published = _epoch_seconds(old.column("published_at"))
    canon_rows = np.array(sorted(canon_rows.tolist(), key=lambda i: (old_published[i] is None,
                                                                   old_published[i] or 0.0, old_ids[i])),
                          dtype=np.int64)
    k_old = len(canon_rows)
    ids = [old_ids[i] for i in canon_rows] + [new_ids[k] for k in rest]
    hashes = [old.column("content_hash")[int(i)].as_py() for i in canon_rows] + [new_hash[k] for k in rest]
    # Earlier canonical articles rank before every new one, so that none of them is taken.
    published: list[float | None] = [-1e15 + r for r in range(k_old)]
    published += [new_published[k] for k in rest]
    stored = read_table(history / "signatures.parquet")
    position = {a: r for r, a in enumerate(stored.column("article_id").to_pylist())}
    stored_sigs = stored.column("signature").combine_chunks()
    take_old = pa.array([position[old_ids[i]] for i in canon_rows], type=pa.int64())
    num_perm = minhash.num_perm
    signatures = np.concatenate([
        np.asarray(stored_sigs.take(take_old).flatten(), dtype=np.uint32).reshape(k_old, num_perm),
        new_sigs[np.asarray(rest, dtype=np.int64)],
    ])
    old_words = _copy_words(old)[np.asarray(canon_rows, dtype=np.int64)]
    new_words = _copy_words(docs)[np.asarray(rest, dtype=np.int64)]
    words = np.concatenate([old_words, new_words])
    eligible = _lsh_eligible(words, config.min_shingles)
    candidates = band_candidates(signatures, config.bands, config.rows, eligible=eligible)
    candidates = candidates[candidates[:, 1] >= k_old]  # pairs of two earlier articles were decided before
    n_candidates = len(candidates)
    candidates = plausible_candidates(candidates, signatures, None, config)
    old_needed = np.unique(candidates[candidates < k_old]) if len(candidates) else np.empty(0, dtype=np.int64)
    old_texts = _read_texts(history / "documents.parquet", [ids[int(r)] for r in old_needed])
    new_rows = np.asarray(rest, dtype=np.int64)

    def texts_of(rows: np.ndarray) -> list[str]:
        """Texts of universe rows: earlier ones from those read, new ones from the documents."""
        rows = np.asarray(rows, dtype=np.int64)
        out = [""] * len(rows)
        new = np.flatnonzero(rows >= k_old)
        for k, text in zip(new.tolist(), new_texts(new_rows[rows[new] - k_old]), strict=True):
            out[k] = text
        for k in np.flatnonzero(rows < k_old).tolist():
            out[k] = old_texts[ids[int(rows[k])]]
        return out

    sets = _shingle_sets_of(texts_of, np.unique(candidates), minhash.shingle_size)
    near, strong = _verify_in_chunks(candidates, sets, config, texts_of, minhash.shingle_size)
    classes = pc.dictionary_encode(pa.array(hashes, type=pa.string())).indices.to_numpy().astype(np.int64)
    # Earlier canonical articles keep their groups: only the groups of new documents, or new
    # documents as strays, may join one.
    movable = np.arange(len(ids)) >= k_old
    groups = group_duplicates(len(ids), near, ids, published, classes=classes, movable=movable, strong=strong)
    heads = groups.canonical
    pairs = []
    for j, k in enumerate(rest):
        u, head = k_old + j, int(heads[k_old + j])
        group[k] = ids[head]
        if head == u:
            canonical[k] = True
        elif classes[head] == classes[u]:
            method[k] = "exact"
        else:
            method[k] = "near"
            pairs.append((u, head))
    if pairs:
        pair_array = np.array(pairs, dtype=np.int64)
        missing = np.setdiff1d(np.unique(pair_array), sets.docs)  # the verified documents have their sets
        if len(missing):
            more = [ids[int(r)] for r in missing if r < k_old and ids[int(r)] not in old_texts]
            old_texts.update(_read_texts(history / "documents.parquet", more))
            sets = _joined_sets(sets, _shingle_sets_of(texts_of, missing, minhash.shingle_size))
        values = _jaccard(pair_array, sets)
        for (u, _), value in zip(pairs, values, strict=True):
            similarity[rest[u - k_old]] = value
    new_texts.close()
    _write_dedup(work, new_ids, group, canonical, similarity, method)
    old_groups = set(old_ids)
    counts = {
        "documents": n_new,
        "earlier_articles": len(old_ids),
        "exact_copies_of_earlier": n_exact_history,
        "lsh_candidates": n_candidates,
        "plausible_pairs": len(candidates),
        "earlier_texts_read": len(old_needed),
        "verified_near_pairs": len(near),
        "groups": int(canonical.sum()),
        "duplicates": int(n_new - int(canonical.sum())),
        "duplicates_of_history": sum(1 for k in range(n_new) if not canonical[k] and group[k] in old_groups),
    }
    return StageResult("duplicates", work / DEDUP, counts, time.perf_counter() - start)


def _read_signatures(path: Path, n: int, num_perm: int) -> np.ndarray:
    """The ``(n, num_perm)`` uint32 signatures of a signatures file, read a batch of rows at
    a time into one array (decoding the whole file at once takes several times its size);
    the memory the decoding used is given back to the system."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if parquet.metadata.num_rows != n:
        raise ValueError(f"{path.name}: {parquet.metadata.num_rows} signatures for {n} documents")
    signatures = np.empty((n, num_perm), dtype=np.uint32)
    first = 0
    for batch in parquet.iter_batches(batch_size=10_000, columns=["signature"]):
        rows = np.asarray(batch.column(0).flatten(), dtype=np.uint32).reshape(-1, num_perm)
        signatures[first : first + len(rows)] = rows
        first += len(rows)
    pa.default_memory_pool().release_unused()
    return signatures


def _lsh_eligible(n_words: np.ndarray, min_shingles: int) -> np.ndarray:
    """Documents long enough to take part in LSH (by :func:`_copy_words`)."""
    return np.asarray(n_words, dtype=np.int64) >= min_shingles


def _copy_words(docs: pa.Table) -> np.ndarray:
    """Words of each document's headline and body, which its shingles are made of
    (:func:`dedup.text.copy_text`): the body's ``n_words`` and the runs of letters and digits
    of the ``title``. A text that starts with its headline (a one-line text) counts it twice;
    the count only decides whether a text is long enough for LSH."""
    title_words = pc.count_substring_regex(pc.fill_null(docs.column("title"), ""), r"[\p{L}\p{N}]+")
    return (np.asarray(docs.column("n_words").to_numpy(), dtype=np.int64)
            + np.asarray(title_words.to_numpy(), dtype=np.int64))


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


@dataclass(frozen=True)
class _StoredArticles:
    """Articles kept in a scratch file (:func:`dedup.io.write_scratch`), rows ``rows`` of
    ``path``: read by the process that uses them, so that the texts of a large batch are
    never all in one process."""

    path: Path
    rows: np.ndarray

    def part(self, positions: Any) -> _StoredArticles:
        """The articles at ``positions`` (a slice or indices) of these."""
        return _StoredArticles(self.path, self.rows[positions])

    def fields(self) -> tuple[list[Any], list[Any], list[Any]]:
        """Titles, texts and datelines (:class:`dedup.features.ArticleFields`)."""
        table = read_scratch_rows(self.path, self.rows, ["title", "text", "dateline"])
        return table.column("title").to_pylist(), table.column("text").to_pylist(), table.column("dateline").to_pylist()


@dataclass(frozen=True)
class _StoredSummaryArticles:
    """A :class:`dedup.summarize.SummarySource` of stored articles with their body rows."""

    stored: _StoredArticles
    body: Any
    vocabulary: np.ndarray

    def take(self, rows: Sequence[int]) -> _StoredSummaryArticles:
        from dedup.features import compact_columns

        body, vocabulary = compact_columns(self.body[list(rows)], self.vocabulary)
        return _StoredSummaryArticles(self.stored.part(np.asarray(rows, dtype=np.int64)), body, vocabulary)

    def load(self) -> Any:
        from dedup.summarize import SummaryArticles

        table = read_scratch_rows(self.stored.path, self.stored.rows,
                          ["title", "text", "source", "dateline", "published_at", "article_id"])
        field = {name: table.column(name).to_pylist() for name in table.column_names}
        return SummaryArticles(titles=field["title"], texts=field["text"], sources=field["source"],
                               datelines=field["dateline"], published=field["published_at"],
                               article_ids=field["article_id"], body=self.body, vocabulary=self.vocabulary)


# The fields of the canonical articles being clustered (scratch of the events stage).
_EVENT_ARTICLES = "event_articles.arrow"
_EVENT_COLUMNS = ["article_id", "title", "text", "dateline", "published_at", "source"]
# The event fields of every document, copied by the duplicates stage for the events stage.
_DOCUMENT_COPY = ".documents.arrow"
# Articles counted or summarised in one piece (in a worker process when there is a pool).
_EVENT_CHUNK = 5_000


def _write_event_articles(documents: Path, rows: np.ndarray, path: Path) -> None:
    """Copy the event fields of the documents ``rows`` (ascending) to the scratch ``path``,
    a row group at a time."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(documents)
    schema = parquet.schema_arrow

    def tables() -> Iterator[pa.Table]:
        first = 0
        for g in range(parquet.num_row_groups):
            stop = first + parquet.metadata.row_group(g).num_rows
            lo, hi = np.searchsorted(rows, [first, stop])
            if hi > lo:
                group = parquet.read_row_group(g, columns=_EVENT_COLUMNS)
                yield group.take(pa.array(rows[lo:hi] - first, type=pa.int64()))
            first = stop

    write_scratch(tables(), pa.schema([schema.field(c) for c in _EVENT_COLUMNS]), path)


def _holds_documents(path: Path, n: int) -> bool:
    """Whether ``path`` is a scratch file of the event fields of ``n`` documents."""
    if not path.exists():
        return False
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        rows = sum(reader.get_batch(b).num_rows for b in range(reader.num_record_batches))
        return rows == n and all(name in reader.schema.names for name in _EVENT_COLUMNS)


def _event_pool(n: int) -> Any:
    """The worker processes that count the features of ``n`` articles and then write their
    summaries (each process starts, and imports its libraries, once); none (a null
    context) for a batch of one chunk or on one core."""
    from dedup.minhash import default_workers, process_pool

    workers = default_workers()
    return process_pool(workers) if workers > 1 and n > _EVENT_CHUNK else contextlib.nullcontext(None)


@dataclass(frozen=True)
class _Canonical:
    """The canonical articles being clustered: ids and dates in memory, the rest in the
    stage's scratch file. Feature counts and summaries run in the processes of
    ``pool`` when given, each reading its own articles from the file, else here."""

    ids: list[str]
    published: list[Any]
    stored: _StoredArticles
    pool: Any = None

    @property
    def workers(self) -> int:
        """The processes sharing the chunked work: the pool's (as :func:`_event_pool` starts
        it), else this one."""
        from dedup.minhash import default_workers

        return default_workers() if self.pool is not None else 1

    def cluster(self, config: ClusterConfig) -> tuple[np.ndarray, list[Any]]:
        """Event labels of these articles, and their feature counts in a one-item list that
        :meth:`summarize` empties once it no longer needs them (nothing else holds them)."""
        from dedup.features import count_features_of_parts
        from dedup.minhash import even_runs

        bounds = even_runs(np.ones(len(self.ids)), _EVENT_CHUNK, self.workers)
        parts = [self.stored.part(slice(a, b)) for a, b in itertools.pairwise(bounds)]
        counts = count_features_of_parts(parts, lead_sentences=config.lead_sentences, pool=self.pool)
        release_memory()  # the chunks' counts, merged
        epoch = np.array([_timestamp(v) for v in self.published], dtype=np.float64)
        return cluster_events(counts, epoch, config, pool=self.pool), [counts]

    def summarize(self, counts: list[Any], clusters: list[list[int]], summary: SummaryConfig) -> list[ClusterSummary]:
        """The summary of each cluster of ``clusters`` (positions in these articles).
        ``counts`` holds the feature counts, and is emptied once they are no longer needed."""
        from dedup.summarize import summarize_clusters

        names = top_entities_of_groups(counts[0], clusters, 10)
        body, vocabulary = tfidf(counts[0].blocks[0], local=False), counts[0].vocabularies[0]
        counts.clear()
        release_memory()
        return summarize_clusters(
            clusters,
            _StoredSummaryArticles(self.stored, body, vocabulary),
            names,
            summary,
            workers=self.workers,
            chunk_articles=_EVENT_CHUNK,
            pool=self.pool,
        )


def _describe(
    canon: _Canonical,
    described: ClusterSummary,
    members: list[int],
    everyone: Sequence[str],
    dates: Sequence[Any],
    sources: Sequence[Any],
) -> dict[str, Any]:
    """The described part of a cluster's row: ``members`` are positions in ``canon`` and
    ``described`` their summary, ``everyone`` all member ids (copies too, sorted) and
    ``dates``/``sources`` theirs."""
    known = sorted(d for d in dates if d is not None)
    return {
        "size": len(everyone),
        "n_canonical": len(members),
        "article_ids": list(everyone),
        "representative_id": canon.ids[described.representative],
        "headline": described.headline,
        "summary": " ".join(described.sentences),
        "summary_sentences": described.sentences,
        "top_terms": described.top_terms,
        "entities": described.entities,
        "places": described.places,
        "sources": sorted({s for s in sources if s}),
        "first_published": known[0] if known else None,
        "last_published": known[-1] if known else None,
        "cohesion": described.cohesion,
    }


def _cluster_table(
    canon: _Canonical,
    members_of: list[list[int]],
    described: Sequence[ClusterSummary],
    cluster_ids: list[str],
    docs: pa.Table,
    in_order: np.ndarray,
    bounds: np.ndarray,
) -> pa.Table:
    """The clusters table of a run without history, built by column: what :func:`_describe`
    gives each cluster, rows ordered by size (descending), then id. ``members_of[c]`` are
    cluster ``c``'s positions in ``canon``, ``described[c]`` its summary; ``in_order`` are
    all rows of ``docs`` (copies too) cluster after cluster, each cluster's in id order,
    and cluster ``c``'s are ``in_order[bounds[c]:bounds[c + 1]]``."""
    k = len(members_of)
    sizes = np.diff(bounds)
    owner = np.repeat(np.arange(k, dtype=np.int64), sizes)
    everyone = docs.take(pa.array(in_order))  # cluster after cluster
    offsets = pa.array(bounds.astype(np.int32))
    # First and last publication date of each cluster: the smallest and largest known one.
    dates = everyone.column("published_at").combine_chunks()
    moments = dates.cast(pa.int64()).to_numpy(zero_copy_only=False)  # nulls come out as 0: masked below
    known = dates.is_valid().to_numpy(zero_copy_only=False)
    has_date = np.bitwise_or.reduceat(known, bounds[:-1]) if k else np.zeros(0, dtype=bool)
    earliest = np.minimum.reduceat(np.where(known, moments, np.iinfo(np.int64).max), bounds[:-1]) if k else moments[:0]
    latest = np.maximum.reduceat(np.where(known, moments, np.iinfo(np.int64).min), bounds[:-1]) if k else moments[:0]
    # Sources of each cluster: its members' distinct non-empty ones, sorted.
    sources = everyone.column("source").combine_chunks()
    stated = pc.fill_null(pc.not_equal(sources, ""), False).to_numpy(zero_copy_only=False)
    names, rank = sorted_distinct(sources.filter(pa.array(stated)))
    width = max(len(names), 1)
    pair = np.unique(owner[stated] * width + rank)  # (cluster, source) pairs, in order
    source_offsets = np.searchsorted(pair // width, np.arange(k + 1)).astype(np.int32)

    def timestamps(values: np.ndarray) -> pa.Array:
        return pa.array(values, mask=~has_date, type=pa.int64()).cast(schema.TIMESTAMP)

    def strings(lists: list[list[str]]) -> pa.Array:
        return pa.array(lists, type=pa.list_(pa.string()))

    table = pa.table(
        {
            "cluster_id": pa.array(cluster_ids, type=pa.string()),
            "size": pa.array(sizes.astype(np.int32)),
            "n_canonical": pa.array(np.fromiter(map(len, members_of), dtype=np.int32, count=k)),
            "article_ids": pa.ListArray.from_arrays(offsets, everyone.column("article_id").combine_chunks()),
            "representative_id": pa.array([canon.ids[d.representative] for d in described], type=pa.string()),
            "headline": pa.array([d.headline for d in described], type=pa.string()),
            "summary": pa.array([" ".join(d.sentences) for d in described], type=pa.string()),
            "summary_sentences": strings([d.sentences for d in described]),
            "top_terms": strings([d.top_terms for d in described]),
            "entities": strings([d.entities for d in described]),
            "places": strings([d.places for d in described]),
            "sources": pa.ListArray.from_arrays(pa.array(source_offsets),
                                                pa.array(names[pair % width], type=pa.string())),
            "first_published": timestamps(earliest),
            "last_published": timestamps(latest),
            "cohesion": pa.array([d.cohesion for d in described], type=pa.float32()),
            "created_at": pa.nulls(k, schema.TIMESTAMP),
            "updated_at": pa.nulls(k, schema.TIMESTAMP),
            "status": pa.array(["new"] * k, type=pa.string()),
        },
        schema=schema.CLUSTERS,
    )
    id_rank = np.empty(k, dtype=np.int64)
    id_rank[pc.sort_indices(table.column("cluster_id")).to_numpy()] = np.arange(k)
    return table.take(pa.array(np.lexsort((id_rank, -sizes))))


def group_events(
    work: Path,
    cluster: ClusterConfig,
    summary: SummaryConfig,
    *,
    history: Path | None = None,
    run_id: str | None = None,
) -> StageResult:
    """Cluster canonical articles into events and describe each cluster.

    Duplicates join their canonical article's cluster. Writes ``events.parquet`` (article to
    cluster) and ``clusters.parquet`` (one described row per cluster). With a ``history``
    (a state directory) and the ``run_id``, see :func:`_group_events_with_history`.
    """
    if history is not None:
        if run_id is None:
            raise ValueError("group_events with a history needs the run_id (the work directory's name)")
        return _group_events_with_history(work, cluster, summary, history, run_id)
    import pyarrow.parquet as pq

    start = time.perf_counter()
    # Only the small columns here: the texts are read by the processes that use them.
    docs = pq.read_table(work / DOCUMENTS, columns=["article_id", "published_at", "source"])
    dedup = read_table(work / DEDUP, _DEDUP)
    n = docs.num_rows
    canon = np.flatnonzero(np.asarray(dedup.column("is_canonical").to_numpy(zero_copy_only=False), dtype=bool))
    if _holds_documents(work / _DOCUMENT_COPY, n):  # the duplicates stage's copy
        stored = _StoredArticles(work / _DOCUMENT_COPY, canon.astype(np.int64))
    else:
        _write_event_articles(work / DOCUMENTS, canon, work / _EVENT_ARTICLES)
        stored = _StoredArticles(work / _EVENT_ARTICLES, np.arange(len(canon), dtype=np.int64))
    picked = docs.take(pa.array(canon))
    articles = _Canonical(
        ids=picked.column("article_id").to_pylist(),
        published=picked.column("published_at").to_pylist(),
        stored=stored,
    )
    with _event_pool(len(canon)) as pool:
        articles = replace(articles, pool=pool)
        labels, counts = articles.cluster(cluster)
        members_of: dict[int, list[int]] = {}
        for k, label in enumerate(labels.tolist()):
            members_of.setdefault(label, []).append(k)
        described = articles.summarize(counts, list(members_of.values()), summary)
    (work / _EVENT_ARTICLES).unlink(missing_ok=True)
    (work / _DOCUMENT_COPY).unlink(missing_ok=True)

    # Every document joins the cluster of its canonical article; each cluster's documents are
    # taken in id order (Arrow orders strings as Python does).
    article_ids = docs.column("article_id")
    position = np.empty(n, dtype=np.int64)  # of each canonical row among the canonical ones
    position[canon] = np.arange(len(canon))
    canonical_row = pc.index_in(dedup.column("dup_group_id"), value_set=article_ids).to_numpy()
    cluster_of = labels[position[canonical_row]]  # labels are 0..k-1, the order of members_of
    id_rank = np.empty(n, dtype=np.int64)
    id_rank[pc.sort_indices(article_ids).to_numpy()] = np.arange(n)
    in_order = np.lexsort((id_rank, cluster_of))
    bounds = np.searchsorted(cluster_of[in_order], np.arange(len(members_of) + 1))

    first_ids = pc.take(article_ids, pa.array(in_order[bounds[:-1]])).to_pylist()
    cluster_ids = [cluster_id([first]) for first in first_ids]  # of each cluster's smallest member id
    clusters = _cluster_table(articles, list(members_of.values()), described, cluster_ids, docs, in_order, bounds)
    assignment = pa.array(cluster_ids, type=pa.string()).take(pa.array(cluster_of))
    write_table(
        pa.table({"article_id": article_ids, "cluster_id": assignment}, schema=_EVENTS), work / EVENTS, _EVENTS
    )
    write_table(clusters, work / CLUSTERS, schema.CLUSTERS)
    result_counts = {
        "canonical_articles": len(canon),
        "clusters": clusters.num_rows,
        "singleton_clusters": int(np.count_nonzero(np.diff(bounds) == 1)),
    }
    return StageResult("events", work / CLUSTERS, result_counts, time.perf_counter() - start)


def _group_events_with_history(
    work: Path, cluster: ClusterConfig, summary: SummaryConfig, history: Path, run_id: str
) -> StageResult:
    """Re-cluster the window of the new articles and carry the earlier cluster ids over.

    The window is the new canonical articles plus the earlier canonical ones they may
    belong with: with dates, those published within ``cluster.max_days_apart`` days of a
    new one (and the undated ones); without dates on the new articles, all of them. Earlier
    clusters gaining a copy, and every article of a cluster the window touches, are added,
    so that clusters are re-clustered whole. Ids are carried over by
    :func:`dedup.incremental.carry_cluster_ids`; clusters outside the window keep their row.

    Writes ``events.parquet`` (the articles whose cluster was decided in this run),
    ``clusters.parquet`` (every active cluster, with ``status`` in this run) and
    ``cluster_state.parquet`` (every cluster id ever issued, for ``state/clusters.parquet``).
    """
    import pyarrow.parquet as pq

    start = time.perf_counter()
    now = run_time(run_id)
    new = read_table(work / DOCUMENTS, schema.DOCUMENTS)
    dedup = read_table(work / DEDUP, _DEDUP)
    old = pq.read_table(
        history / "documents.parquet",
        columns=["article_id", "published_at", "source", "is_canonical", "dup_group_id", "cluster_id"],
    )
    state = read_table(history / "clusters.parquet", schema.STATE_CLUSTERS).to_pylist()
    snapshot = history.parent / "clusters.parquet"
    previous_rows = {r["cluster_id"]: r for r in read_table(snapshot, schema.CLUSTERS).to_pylist()} if (
        snapshot.is_file()) else {}

    new_ids = new.column("article_id").to_pylist()
    new_published = new.column("published_at").to_pylist()
    new_sources = new.column("source").to_pylist()
    new_group = dedup.column("dup_group_id").to_pylist()
    new_canonical = dedup.column("is_canonical").to_pylist()
    old_ids = old.column("article_id").to_pylist()
    old_published = old.column("published_at").to_pylist()
    old_sources = old.column("source").to_pylist()
    old_canonical = old.column("is_canonical").to_pylist()
    old_group = old.column("dup_group_id").to_pylist()
    old_cluster = old.column("cluster_id").to_pylist()
    cluster_of = dict(zip(old_ids, old_cluster, strict=True))

    # The window: which earlier clusters are re-clustered with the new articles.
    fresh = [k for k in range(len(new_ids)) if new_canonical[k]]
    dates = [new_published[k] for k in fresh if new_published[k] is not None]
    if not fresh:
        seeds: set[str] = set()
    elif dates:
        reach = timedelta(days=cluster.max_days_apart)
        low, high = min(dates) - reach, max(dates) + reach
        seeds = {a for a, p, c in zip(old_ids, old_published, old_canonical, strict=True)
                 if c and (p is None or low <= p <= high)}
    else:
        seeds = {a for a, c in zip(old_ids, old_canonical, strict=True) if c}
    seeds |= {new_group[k] for k in range(len(new_ids)) if not new_canonical[k] and new_group[k] in cluster_of}
    touched = {cluster_of[a] for a in seeds}
    window = [i for i in range(len(old_ids)) if old_canonical[i] and old_cluster[i] in touched]

    # Cluster the earlier canonical articles of the window with the new canonical ones,
    # gathered in one scratch file of the work directory, in id order.
    parts = [new.select(_EVENT_COLUMNS).take(pa.array(fresh, type=pa.int64()))]
    if window:
        parts.append(pq.read_table(history / "documents.parquet", columns=_EVENT_COLUMNS,
                                   filters=[("article_id", "in", [old_ids[i] for i in window])]))
    gathered = pa.concat_tables([p.cast(parts[0].schema) for p in parts])
    gathered = gathered.take(pc.sort_indices(gathered, [("article_id", "ascending")]))
    write_scratch([gathered], gathered.schema, work / _EVENT_ARTICLES)
    canon = _Canonical(gathered.column("article_id").to_pylist(), gathered.column("published_at").to_pylist(),
                       _StoredArticles(work / _EVENT_ARTICLES, np.arange(gathered.num_rows, dtype=np.int64)))
    del gathered, parts
    copies: dict[str, list[tuple[str, Any, Any]]] = {a: [] for a in canon.ids}
    for a, g, p, s in zip(old_ids, old_group, old_published, old_sources, strict=True):
        if g in copies:
            copies[g].append((a, p, s))
    for a, g, p, s in zip(new_ids, new_group, new_published, new_sources, strict=True):
        copies[g].append((a, p, s))
    with _event_pool(len(canon.ids)) as pool:
        canon = replace(canon, pool=pool)
        members_of: dict[int, list[int]] = {}
        if canon.ids:
            labels, counts = canon.cluster(cluster)
            for k, label in enumerate(labels.tolist()):
                members_of.setdefault(label, []).append(k)
        groups = [sorted((m for k in members for m in copies[canon.ids[k]]), key=lambda m: m[0])
                  for members in members_of.values()]
        created = {c["cluster_id"]: c["created_at"] for c in state}
        carried = carry_cluster_ids([[m[0] for m in g] for g in groups], {m[0]: cluster_of[m[0]] for g in groups
                                                                          for m in g if m[0] in cluster_of},
                                    created, frozenset(created))
        before: dict[str, list[str]] = {}
        for a, c in zip(old_ids, old_cluster, strict=True):
            if c in touched:
                before.setdefault(c, []).append(a)

        status_count = {"new": 0, "updated": 0, "unchanged": 0}
        cluster_rows = [r | {"status": "unchanged"} for cid, r in previous_rows.items() if cid not in touched]
        status_count["unchanged"] += len(cluster_rows)
        states = {c["cluster_id"]: c for c in state}
        assignment: dict[str, str] = {}
        clusters = list(zip(carried.ids, groups, members_of.values(), strict=True))
        changed = [not (cid in before and sorted(before[cid]) == [m[0] for m in group] and cid in previous_rows)
                   for cid, group, _ in clusters]
        described = iter(canon.summarize(counts, [m for (_, _, m), c in zip(clusters, changed, strict=True) if c],
                                         summary) if any(changed) else [])
    for (cid, group, members), is_changed in zip(clusters, changed, strict=True):
        everyone = [m[0] for m in group]
        assignment.update((a, cid) for a in everyone)
        if not is_changed:
            cluster_rows.append(previous_rows[cid] | {"status": "unchanged"})
            status_count["unchanged"] += 1
            continue
        status = "updated" if cid in states else "new"
        status_count[status] += 1
        row = _describe(canon, next(described), members, everyone, [m[1] for m in group], [m[2] for m in group])
        first = states[cid]["created_at"] if cid in states else now
        cluster_rows.append({"cluster_id": cid, **row, "created_at": first, "updated_at": now, "status": status})
        if cid in states:
            states[cid] = states[cid] | {"updated_at": now}
        else:
            states[cid] = {"cluster_id": cid, "created_at": now, "updated_at": now, "created_run": run_id,
                           "retired_at": None, "merged_into": None}
    for retired, survivor in carried.retired.items():
        states[retired] = states[retired] | {"updated_at": now, "retired_at": now, "merged_into": survivor}
    cluster_rows.sort(key=lambda r: (-r["size"], r["cluster_id"]))
    events = sorted(assignment.items())
    write_table(pa.table({"article_id": [a for a, _ in events], "cluster_id": [c for _, c in events]},
                         schema=_EVENTS), work / EVENTS, _EVENTS)
    write_table(cluster_rows, work / CLUSTERS, schema.CLUSTERS)
    write_table(sorted(states.values(), key=lambda c: c["cluster_id"]), work / CLUSTER_STATE, schema.STATE_CLUSTERS)
    (work / _EVENT_ARTICLES).unlink(missing_ok=True)
    (work / _DOCUMENT_COPY).unlink(missing_ok=True)
    result_counts = {
        "canonical_articles": len(canon.ids),
        "earlier_in_window": len(window),
        "clusters": len(cluster_rows),
        "new_clusters": status_count["new"],
        "updated_clusters": status_count["updated"],
        "unchanged_clusters": status_count["unchanged"],
        "retired_clusters": len(carried.retired),
        "singleton_clusters": sum(r["size"] == 1 for r in cluster_rows),
    }
    return StageResult("events", work / CLUSTERS, result_counts, time.perf_counter() - start)


def publish_outputs(
    work: Path,
    output: Path,
    report: RunReport,
    *,
    history: Path | None = None,
    run_id: str | None = None,
) -> StageResult:
    """Join the stage files into the output tables and publish them into ``output`` together.

    The tables are written to ``work/publish`` and published by :func:`dedup.io.publish`:
    readers of ``output`` see the previous complete output until the new one is complete.
    Safe to retry: each attempt starts from the stage files again. With a ``history`` and
    the ``run_id``, the earlier articles are merged in and the next state is published
    with the outputs (:func:`_stage_history`).
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
    names = [*OUTPUT_FILES, "report.json"]
    extra: dict[str, int] = {}
    if history is not None:
        if run_id is None:
            raise ValueError("publish_outputs with a history needs the run_id (the work directory's name)")
        every, extra, more = _stage_history(work, staging, history, run_id, docs, dedup, events)
        names += more
        articles = every.select(schema.ARTICLES.names)
        dedup = every.select(_DEDUP.names)
    else:
        articles = docs.append_column("dup_group_id", dedup.column("dup_group_id"))
        articles = articles.append_column("is_canonical", dedup.column("is_canonical"))
        articles = articles.append_column("cluster_id", events.column("cluster_id"))
    # The articles table, with every text, takes most of the time: it is written in a thread
    # (Parquet encoding leaves the interpreter free) while the other tables are.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as thread:
        writing = thread.submit(write_table, articles, staging / "articles.parquet", schema.ARTICLES)
        n_dups, n_clusters, n_rejects = _write_small_outputs(work, staging, dedup)
        n_articles = writing.result()
    counts = {"articles": n_articles, "clusters": n_clusters, "duplicates": n_dups, "rejects": n_rejects, **extra}
    if history is not None:
        _stage_run_row(work, staging, history, run_id or "", report, counts)
    report_data = report.to_dict() | {"outputs": counts}
    write_json(report_data, staging / "report.json")
    publish(staging, output, names, run_id=run_id)
    return StageResult("publish", output, counts, time.perf_counter() - start)


def _write_small_outputs(work: Path, staging: Path, dedup: pa.Table) -> tuple[int, int, int]:
    """Write the duplicates, clusters and rejects tables to ``staging``; their row counts."""
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
    return n_dups, n_clusters, n_rejects


def _stage_history(
    work: Path, staging: Path, history: Path, run_id: str, docs: pa.Table, dedup: pa.Table, events: pa.Table
) -> tuple[pa.Table, dict[str, int], list[str]]:
    """Write the next state, this run's partition and the earlier partitions into ``staging``.

    Returns every article (earlier and new, by id, as ``state/documents.parquet`` holds
    them), counts, and the names written besides the flat outputs.
    """
    import os
    import shutil

    from dedup.state import HISTORY_DIR, PARTITIONS_DIR, STATE_DIR, partition_name

    moved = dict(zip(events.column("article_id").to_pylist(), events.column("cluster_id").to_pylist(), strict=True))
    earlier = read_table(history / "documents.parquet", schema.STATE_DOCUMENTS)
    if earlier.num_rows:
        cluster_ids = [moved.get(a, c) for a, c in zip(earlier.column("article_id").to_pylist(),
                                                        earlier.column("cluster_id").to_pylist(), strict=True)]
        earlier = earlier.set_column(earlier.schema.get_field_index("cluster_id"), "cluster_id",
                                     pa.array(cluster_ids, type=pa.string()))
    n = docs.num_rows
    added = docs.append_column("dup_group_id", dedup.column("dup_group_id"))
    added = added.append_column("is_canonical", dedup.column("is_canonical"))
    added = added.append_column("cluster_id", pa.array([moved[a] for a in docs.column("article_id").to_pylist()],
                                                        type=pa.string()))
    added = added.append_column("similarity", dedup.column("similarity"))
    added = added.append_column("method", dedup.column("method"))
    added = added.append_column("first_seen_run", pa.array([run_id] * n, type=pa.string()))
    added = added.append_column("ingest_date", pa.array([run_time(run_id).date()] * n, type=pa.date32()))
    every = pa.concat_tables([schema.conform(earlier, schema.STATE_DOCUMENTS, "documents.parquet"),
                              schema.conform(added, schema.STATE_DOCUMENTS, "documents.parquet")])
    every = every.take(pc.sort_indices(every.column("article_id")))
    (staging / STATE_DIR).mkdir()
    names = [f"{STATE_DIR}/documents.parquet", f"{STATE_DIR}/signatures.parquet", f"{STATE_DIR}/clusters.parquet"]
    write_table(every, staging / names[0], schema.STATE_DOCUMENTS)
    stored = read_table(history / "signatures.parquet")
    signatures = read_table(work / SIGNATURES)
    signatures = pa.concat_tables([stored.cast(signatures.schema), signatures])
    write_table(signatures, staging / names[1], signatures.schema)
    write_table(read_table(work / CLUSTER_STATE, schema.STATE_CLUSTERS), staging / names[2], schema.STATE_CLUSTERS)
    # Each run's new articles stay in their partition; earlier partitions are linked, not copied.
    earlier_parts = history.parent / PARTITIONS_DIR
    if earlier_parts.is_dir():
        for path in sorted(earlier_parts.rglob("*.parquet")):
            name = path.relative_to(history.parent).as_posix()
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, staging / name)
            except OSError:
                shutil.copy2(path, staging / name)
            names.append(name)
    if n:
        part = partition_name(run_id)
        (staging / part).parent.mkdir(parents=True, exist_ok=True)
        write_table(added.select(schema.ARTICLES.names), staging / part, schema.ARTICLES)
        names.append(part)
    (staging / HISTORY_DIR).mkdir()
    names.append(f"{HISTORY_DIR}/{RUNS}")
    batch_ids = set(docs.column("article_id").to_pylist())
    copies_of_earlier = sum(
        1
        for g, c in zip(dedup.column("dup_group_id").to_pylist(), dedup.column("is_canonical").to_pylist(), strict=True)
        if not c and g not in batch_ids
    )
    counts = {"new_articles": n, "new_duplicates": int(n - pc.sum(dedup.column("is_canonical")).as_py() if n else 0),
              "duplicates_of_history": copies_of_earlier}
    return every, counts, names


def _stage_run_row(
    work: Path, staging: Path, history: Path, run_id: str, report: RunReport, counts: dict[str, int]
) -> None:
    """Append this run's row to the run history (``history/runs.parquet``); ``inputs`` are
    the files this run read articles or rejects from (already seen ones are not listed)."""
    from dedup.state import HISTORY_DIR

    stage = {s.stage: s.counts for s in report.stages}
    ingest, events = stage.get("ingest", {}), stage.get("events", {})
    earlier = history.parent / HISTORY_DIR / RUNS
    rows = read_table(earlier, schema.RUNS).to_pylist() if earlier.is_file() else []
    inputs = sorted({*pc.unique(read_table(work / DOCUMENTS).column("input")).to_pylist(),
                     *pc.unique(read_table(work / REJECTS).column("input")).to_pylist()})
    rows.append(
        {
            "run_id": run_id,
            "started_at": run_time(run_id),
            "inputs": inputs,
            "read": ingest.get("read", 0),
            "new_articles": counts["new_articles"],
            "already_seen": ingest.get("already_seen", 0),
            "rejected": ingest.get("rejected", 0),
            "new_duplicates": counts["new_duplicates"],
            "duplicates_of_history": counts["duplicates_of_history"],
            "new_clusters": events.get("new_clusters", 0),
            "updated_clusters": events.get("updated_clusters", 0),
            "retired_clusters": events.get("retired_clusters", 0),
            "articles_total": counts["articles"],
            "clusters_total": counts["clusters"],
        }
    )
    write_table(rows, staging / HISTORY_DIR / RUNS, schema.RUNS)


def prepare_workdir(output: Path) -> Path:
    """A fresh work directory for one run: ``output/.work/<run-id>``.

    When this process holds the output's lock (:func:`dedup.io.output_lock`), what killed
    runs left behind is removed first; without the lock nothing else is touched. The
    directory's name is the run id under which a run with history publishes.
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
    incremental: bool = False,
) -> RunReport:
    """Run every stage on ``paths`` and publish into ``output``; return the counts.

    The run holds ``output``'s lock throughout: a second run on the same output waits up to
    ``lock_timeout`` seconds, then raises :class:`~dedup.errors.OutputError`. A run that fails
    leaves its work directory for inspection (the next run removes it) and the previous
    output untouched.

    With ``incremental=True`` the output keeps a history: the articles of ``paths`` are
    added to every article published there before (see ``docs/incremental.md``); without
    it, the run replaces the output with the results of ``paths`` alone.

    Example (not run here: it writes an output directory)::

        run_pipeline(["data/articles"], "output", incremental=True)
    """
    from dedup.minhash import shared_workers
    from dedup.state import open_history

    config = config or PipelineConfig()
    output = Path(output)
    with output_lock(output, timeout=lock_timeout), shared_workers():  # the stages share worker processes
        work = prepare_workdir(output)
        history = open_history(output, work, config.minhash) if incremental else None
        run_id = work.name if incremental else None
        report = RunReport()
        report.add(ingest_articles(paths, work, config.ingest, history=history))
        report.add(compute_signatures(work, config.minhash))
        report.add(find_duplicates(work, config.minhash, config.duplicates, history=history))
        report.add(group_events(work, config.cluster, config.summary, history=history, run_id=run_id))
        report.add(publish_outputs(work, output, report, history=history, run_id=run_id))
        finish_run(work)
    return report


def finish_run(work: Path) -> None:
    """Remove a published run's work directory, and ``.work`` itself once it is empty."""
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    with contextlib.suppress(OSError):  # another run's work directory is still there
        work.parent.rmdir()


def config_dict(config: PipelineConfig) -> dict[str, Any]:
    """Settings as plain data (for reports and artifacts)."""
    return asdict(config)
