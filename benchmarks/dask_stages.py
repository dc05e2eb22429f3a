"""Time the partitioned stages (ingest, cleaning, signatures) on a local Dask cluster.

    python benchmarks/dask_stages.py --corpus benchmarks/data/corpus-100000 --workers 1 2

For each worker count: a fresh ``LocalCluster`` of that many single-threaded worker
processes runs :mod:`dedup.partition` over the corpus's files, then the merges run here.
The in-process stages (``ingest_articles`` + ``compute_signatures``) are timed too, and the
merged files are checked to be equal to theirs. Prints one JSON line per configuration.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from dedup import partition
from dedup.config import PipelineConfig
from dedup.pipeline import compute_signatures, ingest_articles


def run_partitioned(inputs: list[str], work: Path, workers: int, groups: int, config: PipelineConfig) -> dict:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(workers)
        start = time.perf_counter()
        parts = work / "partitions"
        parts.mkdir(parents=True)
        units = partition.group_units(partition.plan_inputs(inputs), groups)
        now = datetime.now(UTC)
        items = [client.submit(partition.ingest_partition, g, str(parts), config.ingest, index=k, now=now, pure=False)
                 for k, g in enumerate(units)]
        signed = [client.submit(partition.signatures_partition, f, config.minhash, pure=False) for f in items]
        item_files = client.gather(items)
        t_ingest_done = time.perf_counter()
        ingest = partition.merge_documents(item_files, work, config.ingest)
        t_merge_docs = time.perf_counter()
        sig = partition.merge_signatures(client.gather(signed), work, config.minhash)
        end = time.perf_counter()
    return {"mode": f"dask-{workers}-workers", "groups": len(units), "seconds": round(end - start, 1),
            "partitions_ingest_s": round(t_ingest_done - start, 1), "merge_documents_s": round(t_merge_docs -
            t_ingest_done, 1), "signatures_and_merge_s": round(end - t_merge_docs, 1), "accepted": ingest.counts[
            "accepted"], "signatures": sig.counts["documents"]}


def run_in_process(inputs: list[str], work: Path, workers: int, config: PipelineConfig) -> dict:
    work.mkdir(parents=True)
    start = time.perf_counter()
    ingest = ingest_articles(inputs, work, config.ingest, workers=workers)
    compute_signatures(work, config.minhash, workers=workers)
    return {"mode": f"in-process-{workers}-processes", "seconds": round(time.perf_counter() - start, 1),
            "ingest_s": round(ingest.seconds, 1), "accepted": ingest.counts["accepted"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--groups-per-worker", type=int, default=4)
    parser.add_argument("--in-process-workers", type=int, default=2)
    args = parser.parse_args()
    config = PipelineConfig()
    inputs = [str(p) for p in sorted(Path(args.corpus).glob("*.jsonl.gz"))]
    root = Path(tempfile.mkdtemp(prefix="newsdedup-distributed-"))
    try:
        print(json.dumps(run_in_process(inputs, root / "in-process", args.in_process_workers, config)), flush=True)
        for n in args.workers:
            work = root / f"dask-{n}"
            result = run_partitioned(inputs, work, n, args.groups_per_worker * n, config)
            for name in ("documents.parquet", "rejects.parquet", "signatures.parquet"):
                result[f"same_{name.split('.')[0]}"] = pq.read_table(work / name).equals(
                    pq.read_table(root / "in-process" / name))
            print(json.dumps(result), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
