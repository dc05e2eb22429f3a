"""The history an output directory keeps between runs, published with its outputs.

A run with history (``run_pipeline(..., incremental=True)``, ``newsdedup run``) finds its
history in the current published run and publishes the next one beside its outputs, so the
history switches with the outputs in the same atomic step (see ``docs/incremental.md``)::

    output/current/ -> .runs/<run-id>/
      state/documents.parquet    every article seen (schema.STATE_DOCUMENTS)
      state/signatures.parquet   its MinHash signature; the settings in the file's metadata
      state/clusters.parquet     every cluster id issued, with merged_into once retired
      history/runs.parquet       one row per run (schema.RUNS)
      articles/ingest_date=YYYY-MM-DD/run-<run-id>.parquet   the new articles of each run

Everything is Parquet; nothing is pickled.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dedup import schema
from dedup.config import MinHashConfig
from dedup.errors import ConfigError, OutputError
from dedup.io import CURRENT, write_table
from dedup.schema import signature_schema as schema_signature

__all__ = [
    "HISTORY_DIR",
    "PARTITIONS_DIR",
    "STATE_DIR",
    "open_history",
    "partition_name",
    "run_time",
    "signature_schema",
]

STATE_DIR = "state"
HISTORY_DIR = "history"
PARTITIONS_DIR = "articles"
DOCUMENTS, SIGNATURES, CLUSTERS, RUNS = "documents.parquet", "signatures.parquet", "clusters.parquet", "runs.parquet"


def signature_schema(config: MinHashConfig) -> pa.Schema:
    """Schema of a signatures file, with the MinHash settings in its metadata."""
    return schema_signature(config.num_perm, config.metadata())


def run_time(run_id: str) -> datetime:
    """The UTC start time written in a run id (:func:`dedup.io.new_run_id`).

    >>> run_time("20240305T101500123456Z-1a2b3c4d").isoformat()
    '2024-03-05T10:15:00.123456+00:00'
    """
    return datetime.strptime(run_id[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


def partition_name(run_id: str) -> str:
    """Where a run's new articles go inside a published run (hive partitioning by ingest date)."""
    return f"{PARTITIONS_DIR}/ingest_date={run_time(run_id):%Y-%m-%d}/run-{run_id}.parquet"


def open_history(output: Path, work: Path, minhash: MinHashConfig) -> Path:
    """The state directory of ``output``'s current run, checked; an empty one if it has none.

    Call it while holding the output's lock. The returned directory holds
    ``documents.parquet``, ``signatures.parquet`` and ``clusters.parquet``; its parent is the
    published run it belongs to (or a directory in ``work`` holding nothing else).

    Raises:
        OutputError: ``output`` holds results published without history (they would be lost).
        ConfigError: the stored signatures were made with other MinHash settings.
    """
    current = Path(output) / CURRENT
    if not os.path.lexists(current):
        return _empty_state(work, minhash)
    run = Path(os.path.realpath(current))
    state = run / STATE_DIR
    if not (state / DOCUMENTS).is_file():
        raise OutputError(
            f"{output} holds results of a run without history, which an incremental run would drop; "
            "run once with --replace (newsdedup) or incremental=False on all inputs to start a history there, "
            "or choose another output directory"
        )
    stored = (pq.read_schema(state / SIGNATURES).metadata or {}).get(b"minhash", b"").decode()
    if stored != str(minhash):
        raise ConfigError(
            f"the history in {output} has MinHash signatures made with {stored or 'unknown settings'}, "
            f"this run uses {minhash}; signatures are only comparable under equal settings. Run with the "
            "same settings, or rebuild the history by running on all inputs with --replace"
        )
    return state


def _empty_state(work: Path, minhash: MinHashConfig) -> Path:
    state = work / "no-history" / STATE_DIR
    state.mkdir(parents=True)
    write_table([], state / DOCUMENTS, schema.STATE_DOCUMENTS)
    sig = signature_schema(minhash)
    write_table(sig.empty_table(), state / SIGNATURES, sig)
    write_table([], state / CLUSTERS, schema.STATE_CLUSTERS)
    return state
