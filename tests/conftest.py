"""Shared fixtures. Prefect is isolated in a temporary home and started only for flow tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests check behaviour, not speed (speed lives in benchmarks/): no per-example deadline,
# so a loaded 2-core machine does not fail them.
settings.register_profile("newsdedup", deadline=None)
settings.load_profile("newsdedup")

# Before anything imports prefect: a private home, no external API, offline-friendly server.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="newsdedup-prefect-")
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "data" / "articles"


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One Prefect test server for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def seeds_dir() -> Path:
    return SEEDS
