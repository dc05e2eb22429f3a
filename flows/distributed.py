"""The newsdedup flow with its parallel stages spread over a Dask cluster.

Ingest, cleaning and MinHash signatures run per group of input files on the cluster's
workers (:mod:`dedup.partition`); the workers write their partition files into the run's
work directory and return the files' paths. The flow process merges them into the same
stage files the single-process flow writes, then runs duplicate grouping, event clustering
and publishing itself, with the same tasks as :func:`flows.pipeline.newsdedup_flow`.
Outputs are identical to an in-process run on the same inputs and settings.

Workers need the input paths and the output directory at the same paths as the flow
process (shared storage); see ``docs/distributed.md``.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from dedup import partition
from dedup import pipeline as stages
from dedup.config import IngestConfig, MinHashConfig, PipelineConfig
from dedup.io import output_lock
from dedup.pipeline import RunReport
from dedup.state import open_history
from flows.pipeline import _log, _output_limit, artifacts, duplicates, events, publish

__all__ = ["dask_task_runner", "newsdedup_distributed_flow", "run_distributed"]

# Groups of input files per worker: enough that a slow group does not hold up the rest.
GROUPS_PER_WORKER = 4
# Groups when the cluster is given by address (its size is not known up front).
DEFAULT_PARTITIONS = 16


@task(name="ingest-partition", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def ingest_partition(units: list[partition.InputUnit], out_dir: str, config: IngestConfig, index: int,
                     now: datetime) -> str:
    return partition.ingest_partition(units, out_dir, config, index=index, now=now)


@task(name="signatures-partition", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def signatures_partition(items_file: str, config: MinHashConfig) -> str:
    return partition.signatures_partition(items_file, config)


@flow(name="newsdedup-distributed", log_prints=True)
def newsdedup_distributed_flow(
    inputs: list[str],
    output: str = "output",
    partitions: int = DEFAULT_PARTITIONS,
    wait_seconds: float = 3600.0,
    incremental: bool = False,
) -> dict:
    """:func:`flows.pipeline.newsdedup_flow`, with ingest and signatures in ``partitions``
    groups of input files on the flow's task runner (a Dask cluster)."""
    config = PipelineConfig()
    out = Path(output)
    logger = get_run_logger()
    with concurrency(_output_limit(out), timeout_seconds=wait_seconds), output_lock(out, timeout=wait_seconds):
        work = stages.prepare_workdir(out)
        history = open_history(out, work, config.minhash) if incremental else None
        run_id = work.name if incremental else None
        report = RunReport()
        parts = work / "partitions"
        parts.mkdir()
        start = time.perf_counter()
        groups = partition.group_units(partition.plan_inputs(inputs), partitions)
        logger.info("ingest: %d group(s) of input files on the cluster", len(groups))
        now = datetime.now(UTC)  # one reference time for every partition's date checks
        items = ingest_partition.map(groups, unmapped(str(parts)), unmapped(config.ingest), range(len(groups)),
                                     unmapped(now))
        signed = signatures_partition.map(items, unmapped(config.minhash))
        item_files = items.result()
        ingested = partition.merge_documents(item_files, work, config.ingest, history=history)
        report.add(_log(dataclasses.replace(ingested, seconds=time.perf_counter() - start)))
        start = time.perf_counter()
        signed_files = signed.result()
        merged = partition.merge_signatures(signed_files, work, config.minhash)
        report.add(_log(dataclasses.replace(merged, seconds=time.perf_counter() - start)))
        report.add(duplicates(work, config, history))
        report.add(events(work, config, history, run_id))
        report.add(publish(work, out, report, history, run_id))
        artifacts(report, out, run_id)
        stages.finish_run(work)
    return report.to_dict()


def dask_task_runner(*, workers: int | None = None, address: str | None = None) -> Any:
    """A ``prefect_dask.DaskTaskRunner`` on the cluster at ``address``, or on a new local
    cluster of ``workers`` processes with one thread each."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # installed with newsdedup; missing only from a broken environment
        from dedup.errors import InputError

        raise InputError(
            f"running on Dask needs prefect-dask and dask.distributed ({exc}); reinstall newsdedup: pip install -e ."
        ) from exc
    if address is not None:
        return DaskTaskRunner(address=address)
    n = max(1, workers or 1)
    return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


def run_distributed(
    inputs: list[str],
    output: str = "output",
    *,
    workers: int | None = None,
    address: str | None = None,
    partitions: int | None = None,
    wait_seconds: float = 3600.0,
    incremental: bool = False,
) -> dict:
    """Run :func:`newsdedup_distributed_flow` on an existing cluster (``address``, e.g.
    ``"tcp://10.0.0.5:8786"``) or on a local one of ``workers`` processes."""
    if (workers is None) == (address is None):
        raise ValueError("give exactly one of workers (a local Dask cluster) and address (an existing one)")
    if partitions is None:
        partitions = DEFAULT_PARTITIONS if address is not None else GROUPS_PER_WORKER * max(1, workers or 1)
    runner = dask_task_runner(workers=workers, address=address)
    return newsdedup_distributed_flow.with_options(task_runner=runner)(
        inputs=list(inputs), output=str(output), partitions=partitions, wait_seconds=wait_seconds,
        incremental=incremental,
    )

