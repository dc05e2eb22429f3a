"""Speed benchmark: per-stage wall time, throughput and peak memory of the pipeline, plus the
dedup stage against datasketch on the same corpus.

For every size ``N`` a fresh subprocess runs the stages on a generated corpus
(:mod:`benchmarks.corpus`) and reports wall and CPU time per stage and its peak resident
memory (``ru_maxrss`` of the process and, separately, of its worker processes). A second
subprocess runs the dedup comparison on a subsample of the same corpus, each method timed from
the same normalised texts to its pairs: datasketch's documented usage (shingling,
``MinHash.update`` per shingle, then ``MinHashLSH``), ``MinHash.bulk`` with ``MinHashLSH``, and
ours (sketching, LSH banding, exact verification with the coverage check). Results go to
``benchmarks/results/*.json``; ``docs/benchmarks.md`` and ``docs/images/benchmark.png`` are
written from them.

Usage::

    python benchmarks/run.py --sizes 10000 100000 1000000
    python benchmarks/run.py --sizes 1000000 --skip-events   # stages up to dedup only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "images" / "benchmark.png"
COMPARE_DOCS = 10_000


def _cpu() -> float:
    """CPU seconds of this process and its worker processes, ended or still running."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + _running_workers_cpu()


def _running_workers_cpu() -> float:
    """CPU seconds of the worker processes still running (the stages of a run share them, so
    ``RUSAGE_CHILDREN`` counts them only once they end): from ``/proc/<pid>/stat``."""
    import multiprocessing

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for child in multiprocessing.active_children():
        try:
            with open(f"/proc/{child.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, ValueError, IndexError):  # ended meanwhile: counted by RUSAGE_CHILDREN
            continue
    return total


def _peaks() -> dict[str, float]:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"main_mb": own.ru_maxrss / 1024, "largest_worker_mb": kids.ru_maxrss / 1024}


class _StageTimeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _StageTimeout


def run_stages(n: int, skip_events: bool, events_timeout: int = 900) -> dict[str, Any]:
    """Run the stages on the corpus of ``n`` articles in this process; return the measurements."""
    from dedup.config import PipelineConfig
    from dedup.pipeline import (
        RunReport,
        compute_signatures,
        find_duplicates,
        group_events,
        ingest_articles,
        publish_outputs,
    )

    corpus = DATA / f"corpus-{n}"
    work = DATA / f"work-{n}"
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True)
    config = PipelineConfig()
    last = {"t": 0.0}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last["t"] > 30:
            last["t"] = now
            print(f"  {stage}: {done}/{total or '?'}", file=sys.stderr, flush=True)

    stages = [
        ("ingest", lambda: ingest_articles([corpus], work, config.ingest, progress=progress)),
        ("signatures", lambda: compute_signatures(work, config.minhash, progress=progress)),
        ("duplicates", lambda: find_duplicates(work, config.minhash, config.duplicates, progress=progress)),
    ]
    output = DATA / f"output-{n}"
    report = RunReport()
    if not skip_events:
        stages.append(("events", lambda: group_events(work, config.cluster, config.summary)))
        stages.append(("publish", lambda: publish_outputs(work, output, report)))
    out: dict[str, Any] = {"n": n, "stages": {}, "load_before": os.getloadavg()[0]}
    import signal

    from dedup.minhash import shared_workers

    # The stages share their worker processes, as in a run of the flow; the first stage that
    # uses them pays for starting them, and ending them is timed too.
    with shared_workers():
        for name, call in stages:
            wall, cpu = time.perf_counter(), _cpu()
            if name == "events":
                signal.signal(signal.SIGALRM, _alarm)
                signal.alarm(events_timeout)
            try:
                result = call()
            except _StageTimeout:
                out["stages"][name] = {"stopped_after_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu}
                print(f"  {name}: stopped after {events_timeout} s", file=sys.stderr, flush=True)
                continue
            finally:
                signal.alarm(0)
            wall, cpu = time.perf_counter() - wall, _cpu() - cpu
            report.add(result)
            out["stages"][name] = {"wall_s": wall, "cpu_s": cpu, "docs_per_s": n / wall, "counts": result.counts}
            print(f"  {name}: {wall:.1f} s wall, {cpu:.1f} s cpu {result.counts}", file=sys.stderr, flush=True)
        ended = time.perf_counter()
    out["workers_shutdown_s"] = time.perf_counter() - ended
    out["peak_rss"] = _peaks()
    out["load_after"] = os.getloadavg()[0]
    return out


def _sample_texts(n: int, count: int) -> list[str]:
    import pyarrow.parquet as pq

    from dedup.text import normalize_for_hash

    table = pq.read_table(DATA / f"work-{n}" / "documents.parquet", columns=["text"])
    return [normalize_for_hash(t) for t in table.column("text").slice(0, count).to_pylist()]


def _ours(texts: list[str], processes: int) -> dict[str, Any]:
    """Our dedup of normalised texts: signatures, exact shingle sets and the shingles in
    text order, LSH banding, the signature-agreement check, exact verification (with the
    order-aware coverage check, as in the pipeline). With two processes, a worker process
    (started inside the timing) sketches the second half of the texts while this one does
    the first."""
    import numpy as np

    from dedup.config import DuplicateConfig, MinHashConfig
    from dedup.coverage import ShingleSequences
    from dedup.duplicates import ShingleSets, band_candidates, plausible_candidates, verify_candidates
    from dedup.minhash import process_pool, sketch_texts_with_sequences

    mh, dup = MinHashConfig(), DuplicateConfig()
    args = (mh.num_perm, mh.shingle_size, mh.seed)
    start, cpu = time.perf_counter(), time.process_time()
    if processes > 1:
        half = len(texts) // 2
        with process_pool(1) as pool:
            future = pool.submit(sketch_texts_with_sequences, texts[half:], *args, normalized=True)
            parts = [sketch_texts_with_sequences(texts[:half], *args, normalized=True), future.result()]
    else:
        parts = [sketch_texts_with_sequences(texts, *args, normalized=True)]
    sigs, values, offsets, hashes, hash_offsets = parts[0] if len(parts) == 1 else _joined(parts)
    docs = np.arange(len(texts))
    lengths = np.diff(offsets)
    sets = ShingleSets(docs, values, offsets)
    sequences = ShingleSequences(docs, hashes, hash_offsets)
    candidates = band_candidates(sigs, dup.bands, dup.rows)
    plausible = plausible_candidates(candidates, sigs, lengths, dup)
    near, _ = verify_candidates(plausible, sets, dup, None, mh.shingle_size, sequences=sequences)
    return {
        "seconds": time.perf_counter() - start,
        **({"cpu_seconds": time.process_time() - cpu} if processes == 1 else {}),
        "processes": processes,
        "candidate_pairs": len(candidates),
        "plausible_pairs": len(plausible),
        "verified_pairs": len(near),
    }


def _joined(parts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The results of :func:`dedup.minhash.sketch_texts_with_sequences` on consecutive parts of
    the texts, as one result of all of them."""
    import numpy as np

    def offsets(k: int) -> Any:
        return np.concatenate(([0], np.cumsum(np.concatenate([np.diff(p[k]) for p in parts]))))

    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), offsets(2),
            np.concatenate([p[3] for p in parts]), offsets(4))


def _datasketch_shingles(texts: list[str], k: int) -> list[list[bytes]]:
    """Each normalised text's word ``k``-grams as UTF-8 bytes, in text order (repeats kept;
    a text of fewer than ``k`` words is one shingle): what datasketch's ``update`` and
    ``bulk`` take."""
    shingles = []
    for text in texts:
        tokens = text.encode("utf-8").split()
        grams = list(map(b" ".join, zip(*(tokens[j:] for j in range(k)), strict=False)))
        shingles.append(grams or [b" ".join(tokens)])
    return shingles


def compare_dedup(n: int, count: int) -> dict[str, Any]:
    """Dedup of the same ``count`` documents four ways, each timed from the same normalised
    texts to its pairs: datasketch's update loop and its bulk call (shingling, MinHash,
    ``MinHashLSH`` insert and query; no verification), and ours in one and in two processes
    (sketching, LSH banding, exact verification with the coverage check)."""
    from datasketch import MinHash, MinHashLSH

    from dedup.config import DuplicateConfig, MinHashConfig

    texts = _sample_texts(n, count)
    mh, dup = MinHashConfig(), DuplicateConfig()
    k, perm = mh.shingle_size, mh.num_perm
    results: dict[str, Any] = {"docs": len(texts), "load_before": os.getloadavg()[0]}

    def lsh_pairs(minhashes: list[Any]) -> int:
        lsh = MinHashLSH(threshold=dup.jaccard_threshold, num_perm=perm)
        for i, m in enumerate(minhashes):
            lsh.insert(i, m)
        return sum(len(lsh.query(m)) - 1 for m in minhashes) // 2

    def update_loop() -> dict[str, Any]:
        start, cpu = time.perf_counter(), time.process_time()
        documented = []
        for doc in _datasketch_shingles(texts, k):
            m = MinHash(num_perm=perm, seed=mh.seed)
            for s in doc:
                m.update(s)
            documented.append(m)
        pairs = lsh_pairs(documented)
        return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                "candidate_pairs": pairs}

    def bulk() -> dict[str, Any]:
        start, cpu = time.perf_counter(), time.process_time()
        minhashes = MinHash.bulk(_datasketch_shingles(texts, k), num_perm=perm, seed=mh.seed)
        pairs = lsh_pairs(minhashes)
        return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                "candidate_pairs": pairs}

    results["ours"] = _ours(texts, 1)
    results["ours_2_processes"] = _ours(texts, 2)
    results["datasketch_update"] = update_loop()
    results["datasketch_bulk"] = bulk()
    results["ours_again"] = _ours(texts, 1)
    results["ours_2_processes_again"] = _ours(texts, 2)
    results["datasketch_update_again"] = update_loop()
    results["datasketch_bulk_again"] = bulk()
    results["load_after"] = os.getloadavg()[0]
    return results


def _mean_seconds(compare: dict[str, Any], key: str) -> float:
    """Mean seconds of the two runs of one method of :func:`compare_dedup` (one in older results)."""
    return float((compare[key]["seconds"] + compare.get(f"{key}_again", compare[key])["seconds"]) / 2)


def _mean_cpu(compare: dict[str, Any], key: str) -> str:
    """Mean CPU seconds (of the timing process) of the two runs of one method, when measured."""
    runs = [compare[k] for k in (key, f"{key}_again") if k in compare]
    if not runs or any("cpu_seconds" not in r for r in runs):
        return "n/a"
    return f"{sum(r['cpu_seconds'] for r in runs) / len(runs):.2f}"


def _child(args: list[str], timeout: float | None) -> dict[str, Any] | None:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        done = subprocess.run(command, check=True, capture_output=False, stdout=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


STAGES = ("ingest", "signatures", "duplicates", "events", "publish")


def _total_wall(result: dict[str, Any]) -> float | None:
    """Wall seconds of the whole pipeline, or None when a stage did not finish or was skipped."""
    stages = result["stages"]
    if any("wall_s" not in stages.get(name, {}) for name in STAGES):
        return None
    return float(sum(stages[name]["wall_s"] for name in STAGES)) + result.get("workers_shutdown_s", 0.0)


def _target_lines(results: list[dict[str, Any]]) -> list[str]:
    """The scale targets against the measurements of this run (missing sizes say so)."""
    totals = {r["n"]: _total_wall(r) for r in results}
    peaks = {r["n"]: max(v or 0.0 for v in r["peak_rss"].values()) for r in results}

    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = ["## Targets", "", "| target | measured | |", "|---|---|---|"]
    by_n = {r["n"]: r for r in results}
    for n, limit in ((100_000, 60.0), (1_000_000, 600.0)):
        total = totals.get(n)
        if total is None and n in by_n:
            done = {k: s["wall_s"] for k, s in by_n[n]["stages"].items() if "wall_s" in s}
            missing = [k for k in STAGES if k not in done]
            lines.append(
                f"| N = {n:,} in <= {limit:.0f} s | not measured: {', '.join(missing)} not run; "
                f"{', '.join(done)} took {sum(done.values()):.1f} s, peak RSS "
                f"{peaks[n] / 1024:.1f} GB | **not met** |"
            )
        elif total is None:
            lines.append(f"| N = {n:,} in <= {limit:.0f} s | not measured in this run | |")
        else:
            lines.append(f"| N = {n:,} in <= {limit:.0f} s | {total:.1f} s | {met(total <= limit)} |")
    if totals.get(1_000_000) is not None:
        gb = peaks[1_000_000] / 1024
        lines.append(f"| N = 1,000,000 peak RSS <= 8 GB | {gb:.1f} GB (largest process) | {met(gb <= 8)} |")
    for r in results:
        c = r.get("compare")
        if not c or "ours" not in c:
            continue
        ours = _mean_seconds(c, "ours")
        for key, label, factor in (("datasketch_update", "update loop", 50), ("datasketch_bulk", "`MinHash.bulk`", 5)):
            theirs = _mean_seconds(c, key)
            lines.append(f"| dedup >= {factor}x faster than datasketch's {label} (N = {r['n']:,} corpus, 1 process) | "
                         f"{theirs / ours:.1f}x | {met(theirs / ours >= factor)} |")
    small, large = totals.get(10_000), totals.get(100_000)
    if small is not None and large is not None:
        ratio = large / small
        lines.append(f"| time(100k) / time(10k) <= 12 | {ratio:.1f} | {met(ratio <= 12)} |")
    return lines


def report(results: list[dict[str, Any]]) -> None:
    """Write the table of ``docs/benchmarks.md`` and the plot from the measurements."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [
        "# Benchmarks",
        "",
        "Generated by `make benchmark` (`python benchmarks/run.py`); every number below is measured.",
        "Corpus: `benchmarks/corpus.py` (real ECB+ sentences, synthetic events, publication dates over ten",
        "weeks, 15 % syndicated near-copies made with `dedup.evaluation.variants`). Default settings.",
        "Wall time per stage; CPU time counts the worker processes too; peak RSS is `ru_maxrss` of the",
        "main process and of the largest worker. A worker process starts as a copy of the main process",
        "before it loads its own program, and its `ru_maxrss` keeps the size of that copy: the worker figure",
        "is an upper bound, at most the main process's size when the worker started. The machine has 2",
        "cores and is shared: the load average at the start of each run is shown, and a loaded machine",
        "makes every number slower.",
        "",
        "## Pipeline stages",
        "",
        "| N | stage | wall s | CPU s | docs/s | peak RSS main / worker (MB) | load |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    def mb(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.0f}"

    for r in results:
        peak = {k: mb(v) for k, v in r["peak_rss"].items()}
        for name, s in r["stages"].items():
            if "stopped_after_s" in s:
                lines.append(
                    f"| {r['n']:,} | {name} | not finished: stopped after {s['stopped_after_s']:.0f} s | "
                    f"{mb(s.get('cpu_s'))} | | {peak['main_mb']} / {peak['largest_worker_mb']} | "
                    f"{r['load_before']:.1f} |"
                )
                continue
            lines.append(
                f"| {r['n']:,} | {name} | {s['wall_s']:.1f} | {s['cpu_s']:.1f} | {s['docs_per_s']:,.0f} | "
                f"{peak['main_mb']} / {peak['largest_worker_mb']} | {r['load_before']:.1f} |"
            )
        total = _total_wall(r)
        shown = f"**{total:.1f}**" if total is not None else "n/a (a stage did not finish or was skipped)"
        rate = f"{r['n'] / total:,.0f}" if total is not None else ""
        lines.append(f"| {r['n']:,} | **whole pipeline** | {shown} | | {rate} | | |")
    lines += [f"\nN = {r['n']:,}: {r['note']}." for r in results if r.get("note")]
    yardstick = [f"{c['datasketch_update']['seconds']:.1f} s in the N = {r['n']:,} run" for r in results
                 if isinstance(c := r.get("compare"), dict) and "datasketch_update" in c]
    if yardstick:
        lines += [
            "",
            "The load average counts this machine's own processes only; the host it shares can slow it",
            "as much again. A yardstick of the machine's speed during each run: datasketch's update loop",
            f"over the first {COMPARE_DOCS:,} documents of the corpus (the same code and, for one corpus, the",
            "same documents, whatever version of this project is measured) took " + ", ".join(yardstick) + ".",
        ]
    lines += ["", *_target_lines(results)]
    lines += [
        "",
        "## Dedup stage against datasketch (same documents, same run)",
        "",
        f"On the first {COMPARE_DOCS:,} documents of each corpus. Every method starts from the same texts,",
        "normalised once beforehand (`normalize_for_hash`, outside the timing), and is timed until it",
        "has its pairs; 128 permutations or bins and 5-word shingles throughout.",
        "",
        "- datasketch, documented usage: shingling in Python (each text's word 5-grams as bytes),",
        "  `MinHash.update` per shingle with its default hash, then `MinHashLSH` (threshold 0.5) insert",
        "  and query of every document; `MinHash.bulk` replaces the update loop in the bulk row. No",
        "  verification: its pairs are the LSH candidates.",
        "- ours: sketching (tokens and shingle hashes, one-permutation signatures, the exact shingle",
        "  sets, and each text's shingles in text order, kept for the coverage check), LSH banding",
        "  (64 x 2), the signature-agreement check, exact verification of the pairs that pass it (exact",
        "  shingle Jaccard and containment; an intersection is counted exactly wherever a bucket-bitmap",
        "  bound could reach a threshold) and the order-aware coverage check (`dedup/coverage.py`): more",
        "  work than datasketch's LSH query alone. In the pipeline, the duplicates stage reads the texts",
        "  of the pairs the coverage check needs and shingles them again; here the texts are in memory.",
        "",
        "Each method runs twice (ours before and after datasketch, in one process and in two: a second",
        "process, started inside the timing, sketches half of the texts); seconds (wall) and CPU",
        "seconds (of the timing process, so n/a with two processes) are the means of the two runs. On",
        "a shared machine CPU seconds vary less than wall seconds.",
        "",
        "| N (corpus) | method | docs | seconds | CPU s | docs/s | time / ours (1 process) "
        "| time / ours (2 processes) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r.get("compare")
        if not c:
            continue
        seconds = {
            key: _mean_seconds(c, key)
            for key in ("datasketch_update", "datasketch_bulk", "ours", "ours_2_processes")
            if key in c
        }
        for key, label in (
            ("datasketch_update", "datasketch update + LSH"),
            ("datasketch_bulk", "datasketch bulk + LSH"),
            ("ours", "ours, 1 process"),
            ("ours_2_processes", "ours, 2 processes"),
        ):
            if key not in seconds:
                continue
            sec = seconds[key]
            two = f"{sec / seconds['ours_2_processes']:.1f}x" if "ours_2_processes" in seconds else "n/a"
            lines.append(
                f"| {r['n']:,} | {label} | {c['docs']:,} | {sec:.2f} | {_mean_cpu(c, key)} | {c['docs'] / sec:,.0f} | "
                f"{sec / seconds['ours']:.1f}x | {two} |"
            )
        if "load_before" in c:
            lines.append(f"| {r['n']:,} | load average before / after | | {c['load_before']:.1f} / "
                         f"{c['load_after']:.1f} | | | | |")
    lines += [
        "",
        "Extrapolated to the full corpus at the measured rate (labelled as extrapolation, not measured):",
        "",
    ]
    for r in results:
        c = r.get("compare")
        if c:
            rate_u = c["docs"] / _mean_seconds(c, "datasketch_update")
            rate_b = c["docs"] / _mean_seconds(c, "datasketch_bulk")
            lines.append(
                f"- N = {r['n']:,}: datasketch update ~{r['n'] / rate_u / 60:,.0f} min, "
                f"bulk ~{r['n'] / rate_b / 60:,.1f} min (extrapolated, linear in N); "
                "our signatures + duplicates stages measured "
                f"{(r['stages']['signatures']['wall_s'] + r['stages']['duplicates']['wall_s']):.1f} s."
            )
    lines += [
        "",
        "## Reading the numbers",
        "",
        "- LSH candidates per document (64 bands x 2 rows, the default) grow with N on this corpus: "
        + ", ".join(
            f"{r['stages']['duplicates']['counts']['lsh_candidates'] / r['n']:.1f} at N = {r['n']:,}" for r in results
        )
        + ". The corpus reuses about 11k real sentences, so unrelated articles share sentences more often",
        "  than real news does, and two-row bands turn that into candidate pairs; the signature check drops",
        "  those that cannot pass verification, and the rest are verified exactly.",
        "- The dedup comparison takes the first 10,000 documents (by id) of each corpus. Of the N = 10,000",
        "  corpus that is every document, with all its copy pairs; of the larger corpora it is a sample in",
        "  which most copies' originals are missing, so there are fewer pairs to verify. The N = 10,000",
        "  row is the demanding one: there verification and the order-aware coverage check of edited,",
        "  cut copies (`dedup/coverage.py`) have the most pairs to decide.",
        "- The events stage is measured as it is, and is not part of the dedup work above.",
        "- Long runs report progress: `ingest_articles`, `compute_signatures` and `find_duplicates` take",
        "  `progress(stage, done, total)`, called once per batch (`total` is 0 while ingest is still reading).",
        "",
    ]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    lines += ["", "![stage times](images/benchmark.png)", ""]
    DOC.write_text("\n".join(lines) + "\n")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    sizes = [r["n"] for r in results]
    for stage in STAGES:
        points = [(r["n"], r["stages"][stage]["wall_s"]) for r in results if "wall_s" in r["stages"].get(stage, {})]
        if points:
            left.plot(*zip(*points, strict=True), marker="o", label=stage)
    left.set(xscale="log", yscale="log", xlabel="articles", ylabel="wall seconds", title="Stage wall time")
    left.legend()
    compared = [r for r in results if r.get("compare")]
    if compared:
        width = 0.25
        for k, (key, label) in enumerate(
            (("datasketch_update", "datasketch update"), ("datasketch_bulk", "datasketch bulk"), ("ours", "ours"))
        ):
            rates = [r["compare"]["docs"] / _mean_seconds(r["compare"], key) for r in compared]
            right.bar([i + k * width for i in range(len(compared))], rates, width, label=label)
        right.set_xticks([i + width for i in range(len(compared))], [f"{r['n']:,}" for r in compared])
        right.set(yscale="log", ylabel="docs/s (dedup)", xlabel="corpus", title="Dedup throughput, same docs")
        right.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    del sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--skip-events", action="store_true", help="stop after the duplicates stage")
    parser.add_argument("--events-max-n", type=int, default=1_000_000, help="skip events above this size")
    parser.add_argument("--report-only", action="store_true", help="rewrite the docs from saved results")
    parser.add_argument("--events-timeout", type=int, default=900, help="stop the events stage after this many s")
    parser.add_argument("--stages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--compare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-events", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stages:
        print(json.dumps(run_stages(args.stages, args.no_events, args.events_timeout)))
        return 0
    if args.compare:
        print(json.dumps(compare_dedup(args.compare, COMPARE_DOCS)))
        return 0
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from corpus import generate

    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        report([json.loads((RESULTS / f"run-{n}.json").read_text()) for n in args.sizes])
        return 0
    results = []
    for n in args.sizes:
        print(f"N = {n:,}: corpus", file=sys.stderr, flush=True)
        generate(n, DATA / f"corpus-{n}")
        skip = args.skip_events or n > args.events_max_n
        flags = ["--no-events"] if skip else ["--events-timeout", str(args.events_timeout)]
        result = _child(["--stages", str(n), *flags], None)
        assert result is not None
        result["compare"] = _child(["--compare", str(n)], None)
        (RESULTS / f"run-{n}.json").write_text(json.dumps(result, indent=2) + "\n")
        results.append(result)
    report(results)
    print(DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
