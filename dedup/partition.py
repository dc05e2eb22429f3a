"""The parallel parts of ingest and signatures, cut into partitions of input files.

A run over many machines splits its inputs into groups of whole files (:func:`plan_inputs`,
:func:`group_units`), reads, cleans and signs each group on its own (:func:`ingest_partition`,
:func:`signatures_partition`), then merges the partition files into exactly the
``documents.parquet``, ``rejects.parquet`` and ``signatures.parquet`` that
:func:`dedup.pipeline.ingest_articles` and :func:`dedup.pipeline.compute_signatures` write
for the same inputs (:func:`merge_documents`, :func:`merge_signatures`). The later stages
(duplicate grouping, event clustering, publishing) run on the merged files unchanged.

What cannot be decided inside one partition is decided at the merge, in input order:
the first occurrence of an article id wins across all partitions (later ones become the
same rejects a single reader gives them), ``max_articles`` stops the run at the same
article, and documents are ordered by ``article_id``.

Partition files are plain Parquet (written with the explicit schemas below) and are named
by their group's index; everything a partition function needs is its arguments, so it can
run in any process that sees the input paths and ``out_dir``.

    part-00000.items.parquet       <- ingest_partition      (every item read, in input order)
    part-00000.signatures.parquet  <- signatures_partition  (MinHash of the cleaned texts)
    selection.parquet              <- merge_documents       (which partition row each document is)
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dedup import schema
from dedup.config import IngestConfig, MinHashConfig
from dedup.errors import InputError
from dedup.io import read_table, write_table
from dedup.minhash import signatures_of_texts
from dedup.records import RawArticle, Reject
from dedup.state import signature_schema
from dedup.text import copy_texts

__all__ = [
    "InputUnit",
    "group_units",
    "ingest_partition",
    "merge_documents",
    "merge_signatures",
    "plan_inputs",
    "signature_schema",
    "signatures_partition",
]

SELECTION = "selection.parquet"
_BATCH = 1000  # articles cleaned and written per batch: bounds a partition's memory
_DOCUMENT_COLUMNS = [f.name for f in schema.DOCUMENTS]
#: One row per item a partition read, in input order. ``kind`` is ``article`` (an article that
#: passed the per-item checks; ``kept`` is False when cleaning left no text), ``reject`` (an
#: unusable item) or ``note`` (a field left out of the article just before it).
ITEMS = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("input", pa.string(), nullable=False),
        pa.field("record", pa.string(), nullable=False),
        pa.field("article_id", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("dropped", pa.bool_()),
        pa.field("digest", pa.binary(16)),
        pa.field("kept", pa.bool_()),
        pa.field("removed", pa.int32()),
        *(f.with_nullable(True) for f in schema.DOCUMENTS if f.name not in ("article_id", "input", "record")),
    ]
)
_SELECTION = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("part", pa.int32(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class InputUnit:
    """One file to read (``path`` absolute, ``display`` as the outputs name it), or a problem
    found while listing the inputs (``reason``; then ``path`` is None). ``size`` in bytes."""

    display: str
    path: str | None = None
    reason: str | None = None
    size: int = 0


def plan_inputs(paths: Sequence[str | os.PathLike[str]]) -> list[InputUnit]:
    """The files :func:`dedup.ingest.read_inputs` would read for ``paths``, in its order.

    Directories are listed (not read) as ``read_inputs`` walks them: sorted by name, hidden
    entries skipped, symlinks kept inside the root, each directory once. Problems found
    while listing become units with a ``reason``, at their place in the order. Paths are
    made absolute here, so that a process with another working directory can open them.

    Raises:
        InputError: a path does not exist (checked before anything is listed).

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "b.txt").write_text("Two."), (folder / "a.txt").write_text("One.")
    >>> [pathlib.Path(u.path).name for u in plan_inputs([folder])]
    ['a.txt', 'b.txt']
    """
    from dedup.ingest import _check_exists, _current_directory, _display_path, _os_reason

    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"paths must be a sequence of paths, got the single path {paths!r}; pass [path]")
    given = [os.fspath(p) for p in paths]
    for path in given:
        _check_exists(path)
    cwd = _current_directory()
    units: list[InputUnit] = []
    for path in given:
        display = _display_path(path, cwd)
        try:
            info = os.stat(path)
        except OSError as exc:
            units.append(InputUnit(display, reason=f"cannot read: {_os_reason(exc)}"))
            continue
        if stat.S_ISDIR(info.st_mode):
            units.extend(_walk(os.path.abspath(path), display, info))
        elif stat.S_ISREG(info.st_mode):
            units.append(InputUnit(display, path=os.path.abspath(path), size=info.st_size))
        else:
            units.append(InputUnit(display, reason="not a regular file or directory (a device, socket or pipe)"))
    return units


def _walk(root: str, root_display: str, root_info: os.stat_result) -> Iterator[InputUnit]:
    """The files under ``root`` in the order (and with the problems) of ``dedup.ingest``'s walk."""
    from dedup.ingest import walk_tree

    for item in walk_tree(root, root_display, root_info):
        if isinstance(item, Reject):
            yield InputUnit(item.input, reason=item.reason)
            continue
        path, display = item
        try:
            size = os.stat(path).st_size
        except OSError:  # the reader reports it when it opens the file
            size = 0
        yield InputUnit(display, path=path, size=size)


def group_units(units: Sequence[InputUnit], groups: int) -> list[list[InputUnit]]:
    """Cut ``units`` into at most ``groups`` runs of consecutive units of about equal bytes.

    Groups keep the input order (the merge relies on it) and never split a file, so there
    are never more groups than files.

    >>> [len(g) for g in group_units([InputUnit(str(k), path=str(k), size=10) for k in range(5)], 2)]
    [2, 3]
    """
    if groups < 1:
        raise ValueError(f"groups must be at least 1, got {groups}")
    if not units:
        return []
    sizes = np.array([max(u.size, 1) if u.path is not None else 0 for u in units], dtype=np.float64)
    ends = np.cumsum(sizes)
    total = float(ends[-1]) or 1.0
    # Unit k goes to the group its byte midpoint falls in.
    index = np.minimum(((ends - sizes / 2) / total * groups).astype(np.int64), groups - 1)
    cuts = np.flatnonzero(np.diff(index)) + 1
    return [list(part) for part in np.split(np.array(units, dtype=object), cuts) if len(part)]


def _raw_row(kind: str, item: Reject | RawArticle, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": kind, "input": item.input, "record": item.record, "article_id": item.article_id}
    if isinstance(item, Reject):
        row |= {"reason": item.reason, "dropped": item.dropped}
    return row | values


def ingest_partition(
    units: Sequence[InputUnit], out_dir: str | Path, config: IngestConfig, *, index: int, now: datetime | None = None
) -> str:
    """Read and clean the articles of one group of files; write ``part-<index>.items.parquet``.

    Each article gets the checks that need no other partition (its length) and is cleaned;
    the id check across partitions and ``max_articles`` are left to :func:`merge_documents`.
    ``now`` is the reference time of the future-date check: give every partition of a run
    the same one. Returns the path written.
    """
    from dedup.ingest import _Context, _gate, _read_file, _Seen, _text_digest
    from dedup.pipeline import _clean_row

    ctx = _Context(config=config, now=now or datetime.now(UTC))
    nobody = _Seen()  # ids are checked at the merge; here only the length is
    path = Path(out_dir) / f"part-{index:05d}.items.parquet"
    tmp = path.with_name(f".{path.name}.tmp")
    rows: list[dict[str, Any]] = []
    with pq.ParquetWriter(tmp, ITEMS, compression="zstd") as writer:
        for unit in units:
            items: Iterable[Any] = (
                [Reject(unit.display, unit.reason or "cannot read")] if unit.path is None or unit.reason else
                _read_file(unit.path, unit.display, ctx)
            )
            for item in items:
                if isinstance(item, Reject):
                    rows.append(_raw_row("reject", item))
                    continue
                article = item.article
                digest = _text_digest(article.text)
                too_long = _gate(article, digest, nobody, config)
                if too_long is not None:
                    rows.append(_raw_row("reject", too_long))
                    continue
                cleaned = _clean_row(article)
                if cleaned is None:
                    rows.append(_raw_row("article", article, digest=digest, kept=False))
                else:
                    removed = cleaned.pop("_removed")
                    for key in ("article_id", "input", "record"):
                        del cleaned[key]
                    rows.append(_raw_row("article", article, digest=digest, kept=True, removed=removed, **cleaned))
                rows.extend(_raw_row("note", note) for note in item.notes)
                if len(rows) >= _BATCH:
                    writer.write_table(pa.Table.from_pylist(rows, schema=ITEMS))
                    rows = []
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=ITEMS))
    os.replace(tmp, path)
    return str(path)


def signatures_partition(items_file: str | Path, config: MinHashConfig) -> str:
    """MinHash signatures of the cleaned articles of one partition (``part-<i>.signatures.parquet``).

    Rows are ``(row, signature)``: ``row`` is the article's row in ``items_file``. The values
    are those :func:`dedup.pipeline.compute_signatures` gives the same texts.
    """
    items_file = Path(items_file)
    path = items_file.with_name(items_file.name.replace(".items.", ".signatures."))
    tmp = path.with_name(f".{path.name}.tmp")
    table = pq.read_table(items_file, columns=["kind", "kept", "title", "text"])
    mask = pc.fill_null(pc.and_(pc.equal(table.column("kind"), "article"), table.column("kept")), False)
    rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    titles = table.column("title").take(pa.array(rows, type=pa.int64()))
    texts = table.column("text").take(pa.array(rows, type=pa.int64()))
    out_schema = pa.schema(
        [pa.field("row", pa.int64(), nullable=False), pa.field("signature", pa.list_(pa.uint32(), config.num_perm))]
    )
    with pq.ParquetWriter(tmp, out_schema, compression="zstd") as writer:
        for first in range(0, len(rows), 4 * _BATCH):
            chunk = copy_texts(titles.slice(first, 4 * _BATCH).to_pylist(),
                               texts.slice(first, 4 * _BATCH).to_pylist())
            sig = signatures_of_texts(chunk, config.num_perm, config.shingle_size, config.seed)
            flat = pa.array(sig.reshape(-1), type=pa.uint32())
            writer.write_table(pa.Table.from_arrays(
                [pa.array(rows[first : first + len(chunk)], type=pa.int64()),
                 pa.FixedSizeListArray.from_arrays(flat, config.num_perm)], schema=out_schema))
    os.replace(tmp, path)
    return str(path)


def merge_documents(
    item_files: Sequence[str | Path],
    work: Path,
    config: IngestConfig,
    *,
    history: Path | None = None,
) -> Any:
    """Merge partitions (in input order) into ``documents.parquet`` and ``rejects.parquet``.

    Replays what a single reader decides across files: the first occurrence of an id is
    kept, later ones become rejects naming where it was first seen (their notes are not
    reported, as a single reader does not report them), and reading stops at
    ``max_articles``. With a ``history``, articles seen by earlier runs are left out as
    :func:`dedup.pipeline.ingest_articles` leaves them out. Also writes ``selection.parquet``
    (each document's partition and row) for :func:`merge_signatures`.

    Returns the ingest stage's :class:`~dedup.pipeline.StageResult`, with its counts.
    """
    from dedup.ingest import _gate, _Seen
    from dedup.pipeline import DOCUMENTS, REJECTS, StageResult, _skip_seen

    start = time.perf_counter()
    counts = {"read": 0, "accepted": 0, "rejected": 0, "noted": 0, "furniture_lines_removed": 0}
    rejects: list[tuple[int, dict[str, Any]]] = []
    seen = _Seen()
    kept_tables: list[pa.Table] = []
    stopped = False

    def reject(row: dict[str, Any]) -> None:
        rejects.append((len(rejects), row))
        counts["rejected" if row["dropped"] else "noted"] += 1

    for part, item_file in enumerate(item_files):
        if stopped:
            break
        table = pq.read_table(item_file)
        columns = {c: table.column(c).to_pylist() for c in ("kind", "input", "record", "article_id", "reason",
                                                            "dropped", "digest", "kept", "removed")}
        keep: list[int] = []
        skip_notes = False
        for k, kind in enumerate(columns["kind"]):
            where, record, article_id = columns["input"][k], columns["record"][k], columns["article_id"][k]
            if kind == "reject" or (kind == "note" and not skip_notes):
                reject({"input": where, "record": record, "article_id": article_id, "reason": columns["reason"][k],
                        "dropped": columns["dropped"][k]})
                continue
            if kind == "note":
                continue
            article = RawArticle(article_id, "", where, record)
            refused = _gate(article, columns["digest"][k], seen, config)
            skip_notes = refused is not None
            if refused is not None:
                reject({"input": where, "record": record, "article_id": article_id, "reason": refused.reason,
                        "dropped": True})
                continue
            if len(seen.ids) >= config.max_articles:
                reject({"input": where, "record": record, "article_id": article_id, "dropped": True,
                        "reason": f"reached max_articles={config.max_articles}: stopped reading here; "
                                  "this and all later inputs were not read"})
                stopped = True
                break
            seen.add(article, columns["digest"][k])
            counts["read"] += 1
            if not columns["kept"][k]:
                reject({"input": where, "record": record, "article_id": article_id, "dropped": True,
                        "reason": "no article text left after removing page furniture"})
                continue
            counts["furniture_lines_removed"] += columns["removed"][k]
            keep.append(k)
        taken = table.take(pa.array(keep, type=pa.int64())).select(_DOCUMENT_COLUMNS)
        kept_tables.append(taken.append_column("part", pa.array([part] * len(keep), type=pa.int32()))
                           .append_column("row", pa.array(keep, type=pa.int64())))
    docs = pa.concat_tables(kept_tables) if kept_tables else None
    if docs is None or docs.num_rows == 0:
        docs = pa.table({**{f.name: pa.array([], type=f.type) for f in schema.DOCUMENTS},
                         "part": pa.array([], type=pa.int32()), "row": pa.array([], type=pa.int64())})
    # Byte order of UTF-8 is code point order, the order the single-process stage sorts in.
    docs = docs.take(pc.sort_indices(docs.column("article_id")))
    write_table(docs.select(_DOCUMENT_COLUMNS), work / DOCUMENTS, schema.DOCUMENTS)
    write_table(docs.select(_SELECTION.names), work / SELECTION, _SELECTION)
    counts["accepted"] = docs.num_rows
    if history is not None:
        _skip_seen(work, history, rejects, counts)
    rejects.sort(key=lambda pair: pair[0])
    write_table([row for _, row in rejects], work / REJECTS, schema.REJECTS)
    return StageResult("ingest", work / DOCUMENTS, counts, time.perf_counter() - start)


def merge_signatures(signature_files: Sequence[str | Path], work: Path, config: MinHashConfig) -> Any:
    """Gather the partitions' signatures into ``signatures.parquet``, in ``documents.parquet``'s order.

    ``signature_files[i]`` is partition ``i``'s :func:`signatures_partition` file.
    """
    from dedup.pipeline import DOCUMENTS, SIGNATURES, StageResult

    start = time.perf_counter()
    ids = pq.read_table(work / DOCUMENTS, columns=["article_id"]).column("article_id")
    selection = read_table(work / SELECTION, _SELECTION)
    if selection.num_rows != len(ids):  # a history left some documents out
        selection = selection.filter(pc.is_in(selection.column("article_id"), value_set=ids.combine_chunks()))
    if selection.num_rows != len(ids):
        raise InputError(f"{SELECTION} does not match {DOCUMENTS} in {work}: merge the documents again")
    parts = selection.column("part").to_numpy()
    rows = selection.column("row").to_numpy()
    out = np.empty((len(ids), config.num_perm), dtype=np.uint32)
    for part in np.unique(parts).tolist():
        table = pq.read_table(signature_files[part])
        have = table.column("row").to_numpy()
        where = np.flatnonzero(parts == part)
        position = np.searchsorted(have, rows[where])
        if np.any(position >= len(have)) or np.any(have[np.minimum(position, len(have) - 1)] != rows[where]):
            raise InputError(f"{signature_files[part]} lacks documents of its partition: compute it again")
        sig = np.asarray(table.column("signature").combine_chunks().flatten(), dtype=np.uint32)
        out[where] = sig.reshape(-1, config.num_perm)[position]
    sig_schema = signature_schema(config)
    flat = pa.array(out.reshape(-1), type=pa.uint32())
    table = pa.Table.from_arrays([ids, pa.FixedSizeListArray.from_arrays(flat, config.num_perm)], schema=sig_schema)
    write_table(table, work / SIGNATURES, sig_schema)
    return StageResult("signatures", work / SIGNATURES, {"documents": len(ids)}, time.perf_counter() - start)
