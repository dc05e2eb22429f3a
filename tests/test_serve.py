"""The scheduled deployment of ``newsdedup serve`` is registered with its cron schedule."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.flow


def test_serve_deployment_is_registered_with_its_schedule(prefect_server, tmp_path):
    from prefect.client.orchestration import get_client

    from flows.cli import build_parser
    from flows.pipeline import scheduled_deployment

    args = build_parser().parse_args(
        ["serve", "--cron", "0 * * * *", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")]
    )
    deployment = scheduled_deployment(args.name, args.cron, args.input, args.output)
    deployment_id = deployment.apply()  # what serve() registers before it starts polling
    with get_client(sync_client=True) as client:
        stored = client.read_deployment(deployment_id)
    assert stored.name == "newsdedup-scheduled"
    assert [s.schedule.cron for s in stored.schedules] == ["0 * * * *"]
    assert all(s.active for s in stored.schedules) and not stored.paused
    assert stored.parameters["incremental"] is True
    assert stored.parameters["inputs"] == [str(tmp_path / "in")] and stored.parameters["output"] == str(tmp_path / "out")
