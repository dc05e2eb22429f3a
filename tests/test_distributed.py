"""Partitioned ingest and signatures give exactly the single-process stage files and outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dedup.config import IngestConfig, MinHashConfig, PipelineConfig
from dedup.partition import (
    InputUnit,
    group_units,
    ingest_partition,
    merge_documents,
    merge_signatures,
    plan_inputs,
    signatures_partition,
)
from dedup.pipeline import compute_signatures, ingest_articles, run_pipeline
from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED

DEFAULTS = PipelineConfig()
COMPARED = ("articles.parquet", "clusters.parquet", "duplicates.parquet", "rejects.parquet")


def write_corpus(root: Path) -> None:
    """Articles over several files and formats, with what only a merge across files can decide:
    the same id in two files (same text, and other text), a copy of a story in another file,
    an article with no text left, a dropped date (a note), and files that are not read."""
    root.mkdir()
    stories = [*QUAKE_A, *QUAKE_B, UNRELATED]
    for i, (title, text) in enumerate(stories[:3]):
        (root / f"a{i}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    sub = root / "feeds"
    sub.mkdir()
    lines = [{"id": f"f{i}", "title": t, "text": x, "published_at": f"2024-03-0{i + 1}T10:00:00Z"}
             for i, (t, x) in enumerate(stories[3:])]
    lines.append({"id": "a1", "text": stories[1][1]})  # id of a1.txt, same text
    lines.append({"id": "a2", "text": stories[4][1]})  # id of a2.txt, other text
    lines.append({"id": "copy", "title": stories[0][0], "text": "Skip to content\n" + stories[0][1]})
    lines.append({"id": "bad-date", "text": stories[5][1] + " Later update.", "published_at": "not a date"})
    (sub / "feed-1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines[:2]))
    (sub / "feed-2.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines[2:]) + '{"id": "j2"}\n')
    (root / "z-empty.txt").write_text("   \n")
    (root / "z-notes.docx").write_bytes(b"PK\x03\x04")
    (root / ".hidden.txt").write_text("never read")


def partitioned(paths: list[str], work: Path, groups: int, config: PipelineConfig = DEFAULTS) -> None:
    parts = work / "partitions"
    parts.mkdir(parents=True)
    now = datetime.now(UTC)
    units = group_units(plan_inputs(paths), groups)
    items = [ingest_partition(g, parts, config.ingest, index=k, now=now) for k, g in enumerate(units)]
    signatures = [signatures_partition(f, config.minhash) for f in items]
    merge_documents(items, work, config.ingest)
    merge_signatures(signatures, work, config.minhash)


def single(paths: list[str], work: Path, config: PipelineConfig = DEFAULTS) -> None:
    work.mkdir()
    ingest_articles(paths, work, config.ingest, workers=1)
    compute_signatures(work, config.minhash, workers=1)


def assert_same_files(a: Path, b: Path, names=("documents.parquet", "rejects.parquet", "signatures.parquet")):
    for name in names:
        left, right = pq.read_table(a / name), pq.read_table(b / name)
        assert left.schema.equals(right.schema, check_metadata=True), name
        assert left.equals(right), name


def test_plan_follows_the_reading_order(tmp_path):
    write_corpus(tmp_path / "in")
    units = plan_inputs([str(tmp_path / "in")])
    names = [Path(u.display).name for u in units]
    assert names == ["a0.txt", "a1.txt", "a2.txt", "feed-1.jsonl", "feed-2.jsonl", "z-empty.txt", "z-notes.docx"]
    assert all(os.path.isabs(u.path) for u in units)


def test_groups_keep_order_and_whole_files():
    units = [InputUnit(str(k), path=str(k), size=s) for k, s in enumerate([5, 100, 1, 1, 1, 50])]
    for n in range(1, 9):
        groups = group_units(units, n)
        assert [u for g in groups for u in g] == units
        assert 1 <= len(groups) <= min(n, len(units))
    with pytest.raises(ValueError, match="at least 1"):
        group_units(units, 0)


@pytest.mark.parametrize("groups", [1, 2, 3, 7])
def test_merged_stage_files_equal_single_process(tmp_path, groups):
    write_corpus(tmp_path / "in")
    paths = [str(tmp_path / "in")]
    single(paths, tmp_path / "one")
    partitioned(paths, tmp_path / "many", groups)
    assert_same_files(tmp_path / "one", tmp_path / "many")
    rejects = pq.read_table(tmp_path / "many" / "rejects.parquet").column("reason").to_pylist()
    assert sum("duplicate id" in r for r in rejects) == 2  # decided across partitions


def test_max_articles_stops_at_the_same_article(tmp_path):
    write_corpus(tmp_path / "in")
    config = PipelineConfig(ingest=IngestConfig(max_articles=5))
    paths = [str(tmp_path / "in")]
    single(paths, tmp_path / "one", config)
    partitioned(paths, tmp_path / "many", 4, config)
    assert_same_files(tmp_path / "one", tmp_path / "many")


def test_signatures_match_with_other_settings(tmp_path):
    write_corpus(tmp_path / "in")
    config = PipelineConfig(minhash=MinHashConfig(num_perm=64, shingle_size=3, seed=11))
    paths = [str(tmp_path / "in")]
    single(paths, tmp_path / "one", config)
    partitioned(paths, tmp_path / "many", 3, config)
    assert_same_files(tmp_path / "one", tmp_path / "many")


# --------------------------------------------------------------------------- on a Dask cluster


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--scheduler-file", str(scheduler_file), *common],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail("the dask scheduler did not start")
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for name in ("w1", "w2"):
            # Another working directory than the flow's: paths must not depend on it.
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--no-nanny", "--nthreads", "1",
                 "--name", name, "--host", "127.0.0.1", "--local-directory", str(folder / name), *common],
                cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
        yield address
    finally:
        for proc in reversed(procs):  # workers first: none is left waiting for the scheduler
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def assert_same_outputs(a: Path, b: Path) -> None:
    for name in COMPARED:
        left, right = pq.read_table(a / name), pq.read_table(b / name)
        assert left.equals(right), name


@pytest.mark.flow
@pytest.mark.slow
def test_flow_on_a_dask_cluster_matches_in_process_run(prefect_server, dask_cluster, tmp_path, seeds_dir, monkeypatch):
    from flows.distributed import run_distributed

    write_corpus(tmp_path / "in")
    monkeypatch.chdir(tmp_path)  # inputs given relative to the flow's working directory
    # Both corpora in one run: the inline one over several files, then the seed articles.
    paths = ["in", str(seeds_dir)]
    expected, got = tmp_path / "one", tmp_path / "dask"
    run_pipeline(paths, expected)
    report = run_distributed(paths, str(got), address=dask_cluster, partitions=4)
    assert_same_outputs(expected, got)
    assert [s["stage"] for s in report["stages"]] == ["ingest", "signatures", "duplicates", "events", "publish"]
    assert pq.read_table(got / "articles.parquet").num_rows > 10
    assert not (got / ".work").exists()  # the run removed its work directory


def test_merge_leaves_out_what_the_history_holds(tmp_path):
    from dedup.state import open_history

    write_corpus(tmp_path / "in")
    first = [str(tmp_path / "in" / "a0.txt"), str(tmp_path / "in" / "a1.txt")]
    run_pipeline(first, tmp_path / "out", incremental=True)
    history = open_history(tmp_path / "out", tmp_path, DEFAULTS.minhash)
    paths = [str(tmp_path / "in")]
    (tmp_path / "one").mkdir()
    ingest_articles(paths, tmp_path / "one", DEFAULTS.ingest, workers=1, history=history)
    compute_signatures(tmp_path / "one", DEFAULTS.minhash, workers=1)
    parts = tmp_path / "many" / "partitions"
    parts.mkdir(parents=True)
    items = [ingest_partition(g, parts, DEFAULTS.ingest, index=k) for k, g in enumerate(group_units(plan_inputs(paths), 3))]
    result = merge_documents(items, tmp_path / "many", DEFAULTS.ingest, history=history)
    merge_signatures([signatures_partition(f, DEFAULTS.minhash) for f in items], tmp_path / "many", DEFAULTS.minhash)
    assert result.counts["already_seen"] >= 2
    assert_same_files(tmp_path / "one", tmp_path / "many")
