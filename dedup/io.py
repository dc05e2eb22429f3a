"""Reading and writing the pipeline's Parquet files with their declared schemas."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dedup.errors import OutputError
from dedup.schema import conform

__all__ = ["fsync_dir", "publish", "read_table", "write_json", "write_table"]

ROW_GROUP_SIZE = 50_000


def write_table(rows: Iterable[Mapping[str, Any]] | pa.Table, path: Path, schema: pa.Schema) -> int:
    """Write rows (dicts or a table) to ``path`` with exactly ``schema``; return the row count.

    The file is written under a temporary name, flushed to disk and renamed, so a reader
    never sees half a file.
    """
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(list(rows), schema=schema)
    table = conform(table, schema, path.name)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, compression="zstd")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return table.num_rows


def read_table(path: Path, schema: pa.Schema | None = None) -> pa.Table:
    """Read a Parquet file, checked against ``schema`` when given."""
    table = pq.read_table(path)
    return conform(table, schema, path.name) if schema is not None else table


def write_json(data: object, path: Path) -> None:
    """Write JSON deterministically (sorted keys) and atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk (renames inside it become durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish(staging: Path, output: Path, names: Iterable[str]) -> dict[str, Any]:
    """Move finished files from ``staging`` into ``output``, manifest last.

    ``manifest.json`` lists every file with its row count and SHA-256; it is written after
    all files are in place, so a manifest always describes a complete output.
    """
    output.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"files": {}}
    for name in names:
        source = staging / name
        if not source.exists():
            raise OutputError(f"stage file {name} is missing from {staging}")
        rows = pq.ParquetFile(source).metadata.num_rows if name.endswith(".parquet") else None
        manifest["files"][name] = {"rows": rows, "sha256": _sha256(source), "bytes": source.stat().st_size}
    old_manifest = output / "manifest.json"
    if old_manifest.exists():
        old_manifest.unlink()  # the output is incomplete from here until the new manifest lands
    fsync_dir(output)
    for name in manifest["files"]:
        os.replace(staging / name, output / name)
    fsync_dir(output)
    write_json(manifest, output / "manifest.json")
    fsync_dir(output)
    shutil.rmtree(staging, ignore_errors=True)
    return manifest
