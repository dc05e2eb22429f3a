"""The newsdedup Prefect flow: thin orchestration of the library's stages.

Tasks are the pipeline's logical stages; they pass file paths, never tables. The flow's
body reads like :func:`dedup.pipeline.run_pipeline` and could be pasted into a notebook.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from dedup import pipeline as stages
from dedup.config import PipelineConfig
from dedup.pipeline import RunReport, StageResult
from flows.artifacts import publish_artifacts


def _log(result: StageResult) -> StageResult:
    counts = ", ".join(f"{k}={v}" for k, v in result.counts.items())
    get_run_logger().info("%s: %s (%.2fs)", result.stage, counts, result.seconds)
    return result


@task(name="ingest", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def ingest(inputs: list[str], work: Path, config: PipelineConfig) -> StageResult:
    return _log(stages.ingest_articles(inputs, work, config.ingest))


@task(name="signatures", cache_policy=NO_CACHE)
def signatures(work: Path, config: PipelineConfig) -> StageResult:
    return _log(stages.compute_signatures(work, config.minhash))


@task(name="duplicates", cache_policy=NO_CACHE)
def duplicates(work: Path, config: PipelineConfig) -> StageResult:
    return _log(stages.find_duplicates(work, config.minhash, config.duplicates))


@task(name="events", cache_policy=NO_CACHE)
def events(work: Path, config: PipelineConfig) -> StageResult:
    return _log(stages.group_events(work, config.cluster, config.summary))


@task(name="publish", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def publish(work: Path, output: Path, report: RunReport) -> StageResult:
    return _log(stages.publish_outputs(work, output, report))


@task(name="artifacts", cache_policy=NO_CACHE)
def artifacts(report: RunReport, output: Path) -> None:
    publish_artifacts(report, output)


@flow(name="newsdedup", log_prints=True)
def newsdedup_flow(inputs: list[str], output: str = "output") -> dict:
    """Find duplicates and event clusters in ``inputs`` and write Parquet outputs to ``output``."""
    config = PipelineConfig()
    out = Path(output)
    work = stages.prepare_workdir(out)
    report = RunReport()
    report.add(ingest(inputs, work, config))
    report.add(signatures(work, config))
    report.add(duplicates(work, config))
    report.add(events(work, config))
    report.add(publish(work, out, report))
    artifacts(report, out)
    shutil.rmtree(work, ignore_errors=True)
    return report.to_dict()
