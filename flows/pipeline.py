"""The newsdedup Prefect flow: thin orchestration of the library's stages.

Tasks are the pipeline's logical stages; they pass file paths, never tables. The flow's
body reads like :func:`dedup.pipeline.run_pipeline` and could be pasted into a notebook.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from dedup import pipeline as stages
from dedup.config import PipelineConfig
from dedup.io import output_lock
from dedup.minhash import shared_workers
from dedup.pipeline import RunReport, StageResult
from dedup.state import open_history
from flows.artifacts import StageProgress, publish_artifacts, publish_history_artifacts


def _log(result: StageResult) -> StageResult:
    counts = ", ".join(f"{k}={v}" for k, v in result.counts.items())
    get_run_logger().info("%s: %s (%.2fs)", result.stage, counts, result.seconds)
    return result


@task(name="ingest", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def ingest(inputs: list[str], work: Path, config: PipelineConfig, history: Path | None = None) -> StageResult:
    return _log(stages.ingest_articles(inputs, work, config.ingest, history=history))


@task(name="signatures", cache_policy=NO_CACHE)
def signatures(work: Path, config: PipelineConfig) -> StageResult:
    return _log(stages.compute_signatures(work, config.minhash))


@task(name="duplicates", cache_policy=NO_CACHE)
def duplicates(work: Path, config: PipelineConfig, history: Path | None = None) -> StageResult:
    return _log(stages.find_duplicates(work, config.minhash, config.duplicates, history=history))


@task(name="events", cache_policy=NO_CACHE)
def events(work: Path, config: PipelineConfig, history: Path | None = None, run_id: str | None = None) -> StageResult:
    return _log(stages.group_events(work, config.cluster, config.summary, history=history, run_id=run_id))


@task(name="publish", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def publish(work: Path, output: Path, report: RunReport, history: Path | None = None,
            run_id: str | None = None) -> StageResult:
    return _log(stages.publish_outputs(work, output, report, history=history, run_id=run_id))


@task(name="artifacts", cache_policy=NO_CACHE)
def artifacts(report: RunReport, output: Path, run_id: str | None = None) -> None:
    publish_artifacts(report, output)
    if run_id is not None:
        publish_history_artifacts(output, run_id)


def _output_limit(output: Path) -> str:
    """Name of the concurrency limit (1 slot) of an output directory, created when missing."""
    name = "newsdedup-output-" + hashlib.sha256(os.path.realpath(output).encode()).hexdigest()[:12]
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another run created it meanwhile
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    return name


@flow(name="newsdedup", log_prints=True)
def newsdedup_flow(
    inputs: list[str], output: str = "output", wait_seconds: float = 3600.0, incremental: bool = False
) -> dict:
    """Find duplicates and event clusters in ``inputs`` and write Parquet outputs to ``output``.

    Runs on one output directory take turns: they queue on a Prefect concurrency limit of 1
    named after the directory, then take its file lock (which also keeps out runs started
    without Prefect); each waits at most ``wait_seconds`` for each. With ``incremental``,
    the output keeps a history and ``inputs`` are added to it (``docs/incremental.md``).
    """
    config = PipelineConfig()
    out = Path(output)
    with (
        concurrency(_output_limit(out), timeout_seconds=wait_seconds),
        output_lock(out, timeout=wait_seconds),
        shared_workers(),  # the stages share their worker processes
    ):
        work = stages.prepare_workdir(out)
        history = open_history(out, work, config.minhash) if incremental else None
        run_id = work.name if incremental else None
        report = RunReport()
        progress = StageProgress()
        report.add(progress.advance(ingest(inputs, work, config, history)))
        report.add(progress.advance(signatures(work, config)))
        report.add(progress.advance(duplicates(work, config, history)))
        report.add(progress.advance(events(work, config, history, run_id)))
        report.add(progress.advance(publish(work, out, report, history, run_id)))
        artifacts(report, out, run_id)
        progress.advance("artifacts")
        stages.finish_run(work)
    return report.to_dict()


def scheduled_deployment(name: str, cron: str, inputs: list[str], output: str, wait_seconds: float = 3600.0) -> Any:
    """The deployment ``newsdedup serve`` runs: incremental runs of ``inputs`` into ``output`` on ``cron``."""
    return newsdedup_flow.to_deployment(
        name=name,
        cron=cron,
        parameters={"inputs": list(inputs), "output": output, "wait_seconds": wait_seconds, "incremental": True},
        description=f"Incremental newsdedup runs of {', '.join(inputs)} into {output}",
        tags=["newsdedup"],
    )
