"""The Prefect flow, run once against the shared test server."""

from __future__ import annotations

import asyncio

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.flow


def test_flow_writes_outputs_and_artifacts(prefect_server, seeds_dir, tmp_path):
    from prefect.client.orchestration import get_client

    from flows.pipeline import newsdedup_flow

    output = tmp_path / "out"
    state = newsdedup_flow(inputs=[str(seeds_dir)], output=str(output), return_state=True)
    assert state.is_completed()
    report = state.result()
    assert [s["stage"] for s in report["stages"]] == ["ingest", "signatures", "duplicates", "events", "publish"]
    assert pq.read_metadata(output / "articles.parquet").num_rows == 5

    async def artifact_keys():
        async with get_client() as client:
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
                )
            )
            return {a.key: a for a in found}

    artifacts = asyncio.run(artifact_keys())
    assert {"newsdedup-clusters", "newsdedup-report", "newsdedup-output"} <= set(artifacts)
    assert "ingest" in artifacts["newsdedup-report"].data
