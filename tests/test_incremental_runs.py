"""Runs with history: batches added to one output directory, checked against one run on all."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score

from dedup.config import MinHashConfig, PipelineConfig
from dedup.errors import ConfigError, OutputError
from dedup.evaluation.ecbplus import load_benchmark
from dedup.io import verify_output
from dedup.pipeline import run_pipeline

BATCHES = 5


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ecb_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """ECB+ dev once in one run, and in five shuffled batches added one after the other."""
    root = tmp_path_factory.mktemp("ecb")
    articles = [{"id": a.id, "text": a.text} for a in load_benchmark("ecbplus-dev")]
    random.Random(20240305).shuffle(articles)
    run_pipeline([write_jsonl(root / "all.jsonl", articles)], root / "once")
    batches, cluster_ids = [], []
    for b in range(BATCHES):
        batches.append(write_jsonl(root / f"batch{b}.jsonl", articles[b::BATCHES]))
        run_pipeline([batches[-1]], root / "inc", incremental=True)
        cluster_ids.append({r["cluster_id"] for r in pq.read_table(root / "inc" / "clusters.parquet").to_pylist()})
    return {"root": root, "out": root / "inc", "batches": batches, "cluster_ids": cluster_ids, "n": len(articles)}


def read(output: Path, name: str) -> list[dict]:
    return pq.read_table(output / name).to_pylist()


def test_batches_cluster_like_one_run_and_lose_nothing(ecb_runs):
    once = {r["article_id"]: r["cluster_id"] for r in read(ecb_runs["root"] / "once", "articles.parquet")}
    added = read(ecb_runs["out"], "articles.parquet")
    ids = [r["article_id"] for r in added]
    assert len(ids) == len(set(ids)) == ecb_runs["n"] == len(once)
    batched = {r["article_id"]: r["cluster_id"] for r in added}
    keys = sorted(once)
    ari = adjusted_rand_score([once[k] for k in keys], [batched[k] for k in keys])
    print(f"ARI of {BATCHES} batches against one run: {ari:.4f}")
    assert ari >= 0.98
    clusters = read(ecb_runs["out"], "clusters.parquet")
    assert sum(c["size"] for c in clusters) == ecb_runs["n"]
    assert {c["cluster_id"] for c in clusters} == set(batched.values())


def test_earlier_cluster_ids_survive_or_are_recorded_as_merged(ecb_runs):
    state = {c["cluster_id"]: c for c in read(ecb_runs["out"] / "current" / "state", "clusters.parquet")}
    active = {c["cluster_id"] for c in read(ecb_runs["out"], "clusters.parquet")}
    for ids in ecb_runs["cluster_ids"]:
        for cid in ids:
            if cid not in active:
                survivor = state[cid]["merged_into"]
                while survivor not in active:  # a survivor may have been merged later in turn
                    survivor = state[survivor]["merged_into"]
                assert state[cid]["retired_at"] is not None
    assert {c for c, row in state.items() if row["retired_at"] is None} == active


def test_history_layout_and_partitions(ecb_runs):
    import pyarrow.dataset as ds

    out = ecb_runs["out"]
    manifest = verify_output(out)
    run = out / "current"
    runs = read(run / "history", "runs.parquet")
    assert len(runs) >= BATCHES and runs[-1]["run_id"] == manifest["run_id"]
    assert sum(r["new_articles"] for r in runs) == ecb_runs["n"]
    parts = sorted(run.glob("articles/ingest_date=*/run-*.parquet"))
    assert {f"articles/{p.parent.name}/{p.name}" for p in parts} <= set(manifest["files"])
    table = ds.dataset(run / "articles", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == ecb_runs["n"] and "ingest_date" in table.column_names
    clusters = read(out, "clusters.parquet")
    assert {c["status"] for c in clusters} <= {"new", "updated", "unchanged"}
    assert all(c["created_at"] is not None and c["updated_at"] >= c["created_at"] for c in clusters)


def test_rerunning_a_seen_batch_changes_nothing(ecb_runs, tmp_path):
    out = tmp_path / "out"
    run_pipeline([ecb_runs["batches"][0]], out, incremental=True)
    before_articles, before_clusters = read(out, "articles.parquet"), read(out, "clusters.parquet")
    report = run_pipeline([ecb_runs["batches"][0]], out, incremental=True)
    ingest = report.stages[0].counts
    assert ingest["already_seen"] == len(before_articles) and ingest["accepted"] == 0
    assert read(out, "articles.parquet") == before_articles
    after = read(out, "clusters.parquet")
    assert [c["status"] for c in after] == ["unchanged"] * len(after)
    assert [{k: v for k, v in c.items() if k != "status"} for c in after] == [
        {k: v for k, v in c.items() if k != "status"} for c in before_clusters
    ]
    assert read(out, "rejects.parquet") == []


def test_new_articles_join_earlier_clusters_and_copies_are_found_against_history(tmp_path):
    from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED

    def record(i: str, pair: tuple[str, str], when: str) -> dict:
        return {"id": i, "title": pair[0], "text": pair[1], "published_at": when}

    out = tmp_path / "out"
    first = [record("a0", QUAKE_A[0], "2024-03-01"), record("a1", QUAKE_A[1], "2024-03-01"),
             record("r0", UNRELATED, "2024-03-01")]
    run_pipeline([write_jsonl(tmp_path / "one.jsonl", first)], out, incremental=True)
    earlier = {r["article_id"]: r["cluster_id"] for r in read(out, "articles.parquet")}
    second = [record("a2", QUAKE_A[2], "2024-03-02"), record("b0", QUAKE_B[0], "2024-03-02"),
              record("b1", QUAKE_B[1], "2024-03-02"), record("b2", QUAKE_B[2], "2024-03-02"),
              record("copy", ("Copy", QUAKE_A[0][1]), "2024-03-02"),
              record("r0", ("Changed", UNRELATED[1] + " And more."), "2024-03-02")]
    report = run_pipeline([write_jsonl(tmp_path / "two.jsonl", second)], out, incremental=True)
    articles = {r["article_id"]: r for r in read(out, "articles.parquet")}
    assert set(articles) == {"a0", "a1", "a2", "b0", "b1", "b2", "copy", "r0"}
    assert articles["a2"]["cluster_id"] == earlier["a0"]  # joined the earlier cluster, same id
    assert articles["b0"]["cluster_id"] not in earlier.values()
    assert articles["copy"]["dup_group_id"] == "a0" and articles["copy"]["cluster_id"] == earlier["a0"]
    assert report.stages[2].counts["duplicates_of_history"] == 1
    rejects = read(out, "rejects.parquet")
    assert [r["article_id"] for r in rejects] == ["r0"] and "with other text" in rejects[0]["reason"]
    status = {c["cluster_id"]: c["status"] for c in read(out, "clusters.parquet")}
    assert status[earlier["a0"]] == "updated" and status[articles["b0"]["cluster_id"]] == "new"
    assert status[earlier["r0"]] == "unchanged"
    dups = read(out, "duplicates.parquet")
    assert [(d["article_id"], d["duplicate_of"], d["method"]) for d in dups] == [("copy", "a0", "exact")]


def test_other_minhash_settings_fail_clearly(ecb_runs, tmp_path):
    out = tmp_path / "out"
    run_pipeline([ecb_runs["batches"][1]], out, incremental=True)
    config = PipelineConfig(minhash=MinHashConfig(seed=2))
    with pytest.raises(ConfigError, match=r"minhash-oph32-p128-k5-s1\+title.*this run uses minhash-oph32-p128-k5-s2"):
        run_pipeline([ecb_runs["batches"][2]], out, config, incremental=True)


def test_a_history_of_body_only_signatures_fails_clearly(ecb_runs, tmp_path):
    """Signatures named without ``+title`` were made of the body alone (earlier versions)."""
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    run_pipeline([ecb_runs["batches"][1]], out, incremental=True)
    path = out / "current" / "state" / "signatures.parquet"
    table = pq.read_table(path)
    metadata = {**table.schema.metadata, b"minhash": b"minhash-oph32-p128-k5-s1"}
    path.unlink()  # a hard link to the run's file: write a new file, not through the link
    pq.write_table(table.replace_schema_metadata(metadata), path)
    with pytest.raises(ConfigError, match=r"made with minhash-oph32-p128-k5-s1, this run uses "
                                          r"minhash-oph32-p128-k5-s1\+title.*--replace"):
        run_pipeline([ecb_runs["batches"][2]], out, incremental=True)


def test_an_output_without_history_is_not_silently_dropped(ecb_runs, tmp_path):
    out = tmp_path / "out"
    run_pipeline([ecb_runs["batches"][1]], out)
    with pytest.raises(OutputError, match="without history"):
        run_pipeline([ecb_runs["batches"][2]], out, incremental=True)
    assert os.path.realpath(out / "current")  # still the earlier output
    verify_output(out)
