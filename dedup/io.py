"""Reading and writing the pipeline's files, publishing a run's outputs, and locking the output.

Layout of an output directory (see ``docs/operations.md``)::

    output/
      articles.parquet -> current/articles.parquet     stable paths for readers (symlinks)
      clusters.parquet -> current/clusters.parquet
      ...
      manifest.json    -> current/manifest.json
      current -> .runs/<run-id>                         switched atomically by each run
      .runs/<run-id>/                                   one complete, immutable run each
      .work/<run-id>/                                   stage files of the run in progress
      .lock                                             held (flock) by the run in progress

A run's files are written in its work directory, flushed to disk and moved into
``.runs/<run-id>/`` in one rename, its manifest written before that; only then does the
``current`` pointer switch, in one more rename. A reader therefore sees the previous
complete run or the new complete run, never a mix, and a run killed at any moment leaves the
previous output as it was.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dedup.errors import OutputError
from dedup.schema import conform

__all__ = [
    "CURRENT",
    "KEEP_RUNS",
    "LOCK_FILE",
    "RUNS_DIR",
    "WORK_DIR",
    "fsync_dir",
    "holds_lock",
    "new_run_id",
    "output_lock",
    "publish",
    "read_scratch_rows",
    "read_table",
    "remove_stale",
    "verify_output",
    "write_json",
    "write_scratch",
    "write_table",
]

ROW_GROUP_SIZE = 50_000
RUNS_DIR = ".runs"
WORK_DIR = ".work"
CURRENT = "current"
LOCK_FILE = ".lock"
MANIFEST = "manifest.json"
#: Complete runs kept in ``.runs`` (the current one included), so that a reader who resolved
#: ``current`` just before a switch can still finish reading.
KEEP_RUNS = 2

_RUN_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}$")
_LOCK_POLL_SECONDS = 0.1
_READ_BUFFER = 1 << 22  # bytes read from a Parquet file at a time by read_table
# Outputs whose lock this process holds (resolved path -> depth), for holds_lock().
_HELD: dict[str, int] = {}


def write_table(rows: Iterable[Mapping[str, Any]] | pa.Table, path: Path, schema: pa.Schema) -> int:
    """Write rows (dicts or a table) to ``path`` with exactly ``schema``; return the row count.

    The file is written under a temporary name, flushed to disk and renamed, so a reader
    never sees half a file.
    """
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(list(rows), schema=schema)
    table = conform(table, schema, path.name)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, compression="zstd")
    _fsync_file(tmp)
    os.replace(tmp, path)
    return table.num_rows


def read_table(path: Path, schema: pa.Schema | None = None) -> pa.Table:
    """Read a Parquet file, checked against ``schema`` when given."""
    # Pages are read through a small buffer, not the whole file's column chunks first: those
    # would be held next to the decoded table (twice its size for an uncompressed file).
    table = pq.read_table(path, pre_buffer=False, buffer_size=_READ_BUFFER)
    return conform(table, schema, path.name) if schema is not None else table


def write_scratch(batches: Iterable[pa.Table], schema: pa.Schema, path: Path) -> int:
    """Write tables of ``schema`` one after another to an uncompressed Arrow file at
    ``path``, for :func:`read_scratch_rows`; return the row count. A scratch file of a
    stage: any row can be read at once, with nothing to decompress."""
    rows = 0
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for table in batches:
            writer.write_table(table)
            rows += table.num_rows
    return rows


def read_scratch_rows(path: Path, rows: Any, columns: Iterable[str]) -> pa.Table:
    """Rows ``rows`` (row numbers, in any order) of the Arrow file at ``path``
    (:func:`write_scratch`), in that order, with only ``columns``. The file is memory-mapped
    and rows are taken batch by batch: only the rows asked for are read, so a worker
    process can fetch its share of a file larger than memory by itself."""
    rows = np.asarray(rows, dtype=np.int64)
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        batches = [reader.get_batch(b) for b in range(reader.num_record_batches)]
        starts = np.concatenate([[0], np.cumsum([batch.num_rows for batch in batches], dtype=np.int64)])
        if len(rows) and (rows.min() < 0 or rows.max() >= starts[-1]):
            raise IndexError(f"{path.name} has {starts[-1]} rows; asked for rows {rows.min()}..{rows.max()}")
        batch_of = np.searchsorted(starts, rows, side="right") - 1
        order = np.argsort(batch_of, kind="stable")
        bounds = np.searchsorted(batch_of[order], np.arange(len(batches) + 1))
        names = list(columns)
        pieces = [
            pa.Table.from_batches([batches[b].select(names)]).take(
                pa.array(rows[order[bounds[b] : bounds[b + 1]]] - starts[b], type=pa.int64()))
            for b in range(len(batches)) if bounds[b + 1] > bounds[b]
        ]
        schema = reader.schema
        table = pa.concat_tables(pieces) if pieces else pa.schema([schema.field(c) for c in names]).empty_table()
    if np.any(np.diff(order) < 0):  # back to the order asked for
        table = table.take(pa.array(np.argsort(order, kind="stable"), type=pa.int64()))
    return table


def write_json(data: object, path: Path) -> None:
    """Write JSON deterministically (sorted keys), flushed to disk, and atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    _fsync_file(tmp)
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk (renames inside it become durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def new_run_id() -> str:
    """A new run id: UTC time to the microsecond and 8 random hex digits; ids sort by time.

    >>> bool(_RUN_ID.match(new_run_id()))
    True
    """
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


# --------------------------------------------------------------------------- locking


def holds_lock(output: Path) -> bool:
    """Whether this process holds the lock of ``output`` (see :func:`output_lock`)."""
    return _HELD.get(_key(output), 0) > 0


def _key(output: Path) -> str:
    return os.path.realpath(output)


@contextlib.contextmanager
def output_lock(output: Path, timeout: float = 0.0) -> Iterator[Path]:
    """Hold the exclusive lock of an output directory (``flock`` on ``output/.lock``).

    Two runs on one output directory never interleave: the second waits up to ``timeout``
    seconds, then raises. The OS drops the lock when its holder exits, however it exits, so
    a killed run never leaves a stale lock behind. ``flock`` locks are local to one machine:
    on a network file system, give each machine its own output directory.

    Args:
        output: The output directory (created if missing).
        timeout: Seconds to wait for another run to finish; 0 fails at once.

    Raises:
        OutputError: The directory cannot be written, or another run holds the lock for
            longer than ``timeout`` (the message names that run's process and start time).

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp())
        >>> with output_lock(out):
        ...     holds_lock(out)
        True
    """
    if timeout < 0:
        raise OutputError(f"lock timeout must be 0 or more seconds, got {timeout}")
    output = Path(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
        fd = os.open(output / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot write to output directory {output}: {exc.strerror}") from exc
    try:
        _acquire(fd, output, timeout)
        os.ftruncate(fd, 0)
        holder = f"pid {os.getpid()} on {socket.gethostname()}, started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        os.pwrite(fd, holder.encode("utf-8"), 0)
        key = _key(output)
        _HELD[key] = _HELD.get(key, 0) + 1
        try:
            yield output
        finally:
            _HELD[key] -= 1
            if not _HELD[key]:
                del _HELD[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, output: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise OutputError(f"cannot lock output directory {output}: {exc.strerror}") from exc
        if time.monotonic() >= deadline:
            break
        time.sleep(_LOCK_POLL_SECONDS)
    try:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown process"
    except OSError:
        holder = "unknown process"
    waited = f" after waiting {timeout:g} s" if timeout else ""
    raise OutputError(
        f"output directory {output} is in use by another newsdedup run ({holder}){waited}; "
        "wait for it to finish or choose another output directory"
    )


# --------------------------------------------------------------------------- publishing


def publish(staging: Path, output: Path, names: Iterable[str], run_id: str | None = None) -> dict[str, Any]:
    """Publish the finished files in ``staging`` as the new complete output of ``output``.

    1. ``manifest.json`` (row count, size and SHA-256 of every file) is written into
       ``staging`` last, and everything is flushed to disk;
    2. ``staging`` becomes ``output/.runs/<run_id>/`` in one rename;
    3. the stable names ``output/<name>`` are made symlinks into ``output/current``;
    4. ``output/current`` is switched to the new run in one rename;
    5. runs beyond the newest :data:`KEEP_RUNS` are deleted.

    A crash before step 4 leaves the previous output current; a crash after it leaves the
    new one. Only files named in ``names`` (and the manifest) are published. A name may be a
    path inside ``staging`` (``state/documents.parquet``); only top-level files get a stable
    name in ``output``, the others are read through ``output/current/``.

    Returns:
        The manifest.

    Raises:
        OutputError: A named file is missing from ``staging``, or the output cannot be written.
    """
    names = list(names)
    run_id = run_id or new_run_id()
    if not _RUN_ID.match(run_id):
        raise OutputError(f"invalid run id {run_id!r}; use dedup.io.new_run_id()")
    manifest: dict[str, Any] = {"run_id": run_id, "created": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ}", "files": {}}
    for name in names:
        source = staging / name
        if not source.is_file():
            raise OutputError(f"stage file {name} is missing from {staging}")
        rows = pq.ParquetFile(source).metadata.num_rows if name.endswith(".parquet") else None
        manifest["files"][name] = {"rows": rows, "sha256": _sha256(source), "bytes": source.stat().st_size}
        _fsync_file(source)
    tops = {name.split("/", 1)[0] for name in manifest["files"]}
    extra = sorted(p.name for p in staging.iterdir() if p.name not in tops)
    for name in extra:  # leftovers of an earlier attempt must not ride along
        _remove(staging / name)
    write_json(manifest, staging / MANIFEST)
    for folder in sorted({(staging / name).parent for name in names if "/" in name}, reverse=True):
        fsync_dir(folder)
    fsync_dir(staging)
    try:
        runs = output / RUNS_DIR
        runs.mkdir(parents=True, exist_ok=True)
        target = runs / run_id
        if target.exists():  # an earlier attempt of this run got this far
            if _current_run(output) == run_id:  # ... and even switched: the publish is done
                _remove(staging)
                return json.loads((target / MANIFEST).read_text(encoding="utf-8"))
            _discard(target)
        _move_dir(staging, target)
        fsync_dir(runs)
        _link_stable_names(output, [*(name for name in names if "/" not in name), MANIFEST])
        _replace_symlink(output / CURRENT, f"{RUNS_DIR}/{run_id}")
        fsync_dir(output)
    except OSError as exc:
        raise OutputError(f"cannot publish into output directory {output}: {exc.strerror or exc}") from exc
    _prune_runs(output, keep=KEEP_RUNS)
    return manifest


def _move_dir(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``; across file systems, copy beside ``target`` first."""
    try:
        os.rename(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = target.with_name(f".incoming-{target.name}")
    shutil.copytree(source, partial)
    for path in sorted(partial.rglob("*"), reverse=True):
        if path.is_dir():
            fsync_dir(path)
        else:
            _fsync_file(path)
    fsync_dir(partial)
    os.rename(partial, target)
    shutil.rmtree(source, ignore_errors=True)


def _replace_symlink(link: Path, target: str) -> None:
    """Make ``link`` a symlink to ``target`` in one rename (whatever ``link`` was before)."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_dir() and not link.is_symlink():
        raise OutputError(f"{link} is a directory; move it away so that the output can be published")
    tmp = link.with_name(f".{link.name}.{secrets.token_hex(4)}.tmp")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _link_stable_names(output: Path, names: list[str]) -> None:
    """``output/<name>`` -> ``current/<name>``; replaces files of the older flat layout."""
    for name in names:
        _replace_symlink(output / name, f"{CURRENT}/{name}")


def _current_run(output: Path) -> str | None:
    try:
        return os.path.basename(os.readlink(output / CURRENT))
    except OSError:
        return None


def _prune_runs(output: Path, keep: int) -> None:
    """Delete complete runs beyond the newest ``keep`` (never the current one)."""
    runs = output / RUNS_DIR
    current = _current_run(output)
    complete = sorted((p.name for p in runs.iterdir() if _RUN_ID.match(p.name)), reverse=True)
    kept = {current, *complete[: max(keep, 1)]}
    for name in complete:
        if name not in kept:
            _discard(runs / name)


def _discard(path: Path) -> None:
    """Delete a directory by first renaming it aside, so that it is whole or gone, never half."""
    trash = path.with_name(f".trash-{path.name}-{secrets.token_hex(4)}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale(output: Path) -> list[str]:
    """Delete what runs killed part way left behind: work directories, half-copied or
    half-deleted runs and temporary links. Returns the names removed.

    Only call this while holding the output's lock (:func:`output_lock`): without it, the
    files of a run in progress would look stale.

    Raises:
        OutputError: The caller does not hold the lock.
    """
    if not holds_lock(output):
        raise OutputError(f"remove_stale needs the lock of {output}; take it with output_lock()")
    removed: list[str] = []
    work = output / WORK_DIR
    if work.is_dir() and not work.is_symlink():
        for path in sorted(work.iterdir()):
            _remove(path)
            removed.append(f"{WORK_DIR}/{path.name}")
    elif work.exists() or work.is_symlink():
        _remove(work)
        removed.append(WORK_DIR)
    runs = output / RUNS_DIR
    if runs.is_dir():
        for path in sorted(runs.iterdir()):
            if not _RUN_ID.match(path.name):
                _remove(path)
                removed.append(f"{RUNS_DIR}/{path.name}")
    for path in sorted(output.glob(".*.tmp")):
        _remove(path)
        removed.append(path.name)
    return removed


# --------------------------------------------------------------------------- reading back


def verify_output(output: Path) -> dict[str, Any]:
    """Check every file of the current output against its manifest; return the manifest.

    The run directory is resolved once, so the check sees one run even if another run
    switches ``current`` meanwhile.

    Raises:
        OutputError: No output, or a file is missing or differs from its manifest entry.
    """
    run = Path(os.path.realpath(Path(output) / CURRENT))
    try:
        manifest: dict[str, Any] = json.loads((run / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(f"{output} holds no published newsdedup output (no {CURRENT}/{MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot read the manifest of {output}: {exc}") from exc
    for name, entry in manifest["files"].items():
        path = run / name
        if not path.is_file():
            raise OutputError(f"{path} is listed in the manifest but missing")
        if path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
            raise OutputError(f"{path} differs from its manifest entry (size or SHA-256)")
        if entry["rows"] is not None and pq.ParquetFile(path).metadata.num_rows != entry["rows"]:
            raise OutputError(f"{path} has another row count than its manifest says")
    return manifest
