"""Atomic publish, crash safety, locking of the output directory, and the security checks.

The crash test kills real pipeline processes with SIGKILL. The processes are forked from a
server that has imported the library once (``multiprocessing`` "forkserver"), so that each
trial costs the run itself and not three seconds of imports.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dedup import io as dedup_io
from dedup.config import IngestConfig, PipelineConfig
from dedup.errors import ConfigError, OutputError
from dedup.io import CURRENT, KEEP_RUNS, RUNS_DIR, output_lock, verify_output
from dedup.pipeline import OUTPUT_FILES, run_pipeline
from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED

REPO = Path(__file__).resolve().parents[1]
STABLE_NAMES = (*OUTPUT_FILES, "report.json", "manifest.json")
WORDS = [f"w{i}" for i in range(3000)]
PLACES = ["Geneva", "Lyon", "Oslo", "Quito", "Perth", "Accra", "Hanoi", "Lima"]


def write_small(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, (title, text) in enumerate([*QUAKE_A, *QUAKE_B, UNRELATED]):
        (root / f"doc{i}.txt").write_text(f"{title}\n\n{text}{extra}\n", encoding="utf-8")
    return root


def write_synthetic(path: Path, n: int, seed: int = 7) -> Path:
    """``n`` articles in one JSON Lines file: stories of ~5 near-copies each, seeded."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            topic = rng.randrange(n // 5 + 1)
            story = random.Random(topic)
            base = [story.choice(WORDS) for _ in range(120)]
            noise = " ".join(rng.choice(WORDS) for _ in range(40))
            place = PLACES[topic % len(PLACES)]
            text = f"{place.upper()} (Wire) - Officials in {place} said on Monday that {' '.join(base[:60])}. {noise}. {' '.join(base[60:])}."
            record = {"id": f"a{i:05d}", "title": f"Story {topic} from {place}", "text": text}
            handle.write(json.dumps(record) + "\n")
    return path


def resolved_files(output: Path) -> dict[str, str]:
    """Where each stable name points once resolved (all into one run directory)."""
    return {name: os.path.realpath(output / name) for name in STABLE_NAMES}


# --------------------------------------------------------------------------- atomic publish


def test_publish_layout_stable_names_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_pipeline([write_small(tmp_path / "in")], out)
    manifest = verify_output(out)
    run_dir = out / RUNS_DIR / manifest["run_id"]
    assert os.path.realpath(out / CURRENT) == str(run_dir)
    for name in STABLE_NAMES:
        assert (out / name).is_symlink() and os.readlink(out / name) == f"{CURRENT}/{name}"
        assert os.path.realpath(out / name) == str(run_dir / name)
    assert manifest["files"]["articles.parquet"]["rows"] == pq.read_metadata(out / "articles.parquet").num_rows
    assert set(manifest["files"]) == {*OUTPUT_FILES, "report.json"}
    assert not (out / ".work").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([".lock", RUNS_DIR, CURRENT, *STABLE_NAMES])


def test_each_run_switches_current_and_keeps_the_previous_one(tmp_path: Path) -> None:
    out, ids = tmp_path / "out", []
    for k in range(KEEP_RUNS + 2):
        run_pipeline([write_small(tmp_path / f"in{k}", extra=" " + "more " * k)], out)
        ids.append(verify_output(out)["run_id"])
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert sorted(p.name for p in (out / RUNS_DIR).iterdir()) == ids[-KEEP_RUNS:]
    previous = out / RUNS_DIR / ids[-2]
    manifest = json.loads((previous / "manifest.json").read_text())
    assert {p.name for p in previous.iterdir()} == {*manifest["files"], "manifest.json"}


def test_a_flat_output_of_the_older_layout_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in STABLE_NAMES:
        (out / name).write_text("old")
    (out / ".work").mkdir()
    (out / ".work" / "documents.parquet").write_text("old stage file")
    run_pipeline([write_small(tmp_path / "in")], out)
    verify_output(out)
    assert all((out / name).is_symlink() for name in STABLE_NAMES)
    assert not (out / ".work").exists()


def test_leftovers_of_killed_runs_do_not_break_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_pipeline([write_small(tmp_path / "in")], out)
    before = verify_output(out)
    # What a run killed at various moments leaves behind.
    stale_work = out / ".work" / "20200101T000000000000Z-deadbeef"
    (stale_work / "publish").mkdir(parents=True)
    (stale_work / "publish" / "articles.parquet").write_bytes(b"half a file")
    (out / RUNS_DIR / ".incoming-20200101T000000000000Z-deadbeef").mkdir()
    (out / RUNS_DIR / ".trash-20190101T000000000000Z-0badf00d-1234abcd").mkdir()
    os.symlink(".runs/nowhere", out / ".current.1234abcd.tmp")
    run_pipeline([write_small(tmp_path / "in")], out)
    after = verify_output(out)
    assert after["run_id"] != before["run_id"]
    assert sorted(p.name for p in (out / RUNS_DIR).iterdir()) == [before["run_id"], after["run_id"]]
    assert not (out / ".work").exists() and not (out / ".current.1234abcd.tmp").is_symlink()


def test_failed_switch_leaves_the_previous_output_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    run_pipeline([write_small(tmp_path / "in")], out)
    before = verify_output(out)
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if Path(dst).name == CURRENT:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(dedup_io.os, "replace", failing_replace)
    with pytest.raises(OutputError, match=r"cannot publish into output directory .*No space left on device"):
        run_pipeline([write_small(tmp_path / "in2", extra=" Changed.")], out)
    monkeypatch.undo()
    assert verify_output(out)["run_id"] == before["run_id"]
    run_pipeline([write_small(tmp_path / "in2", extra=" Changed.")], out)  # and the next run works
    assert verify_output(out)["run_id"] != before["run_id"]


def test_staging_on_another_file_system_is_copied_then_renamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(src).name == "publish":  # the staging directory: pretend it is on another device
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_rename(src, dst)

    monkeypatch.setattr(dedup_io.os, "rename", rename)
    run_pipeline([write_small(tmp_path / "in")], out)
    manifest = verify_output(out)
    assert sorted(p.name for p in (out / RUNS_DIR).iterdir()) == [manifest["run_id"]]


def test_verify_output_detects_a_changed_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_pipeline([write_small(tmp_path / "in")], out)
    target = Path(os.path.realpath(out / "duplicates.parquet"))
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    with pytest.raises(OutputError, match="differs from its manifest"):
        verify_output(out)
    with pytest.raises(OutputError, match="holds no published newsdedup output"):
        verify_output(tmp_path / "empty")


# --------------------------------------------------------------------------- crash test


def _run_into(inputs: str, output: str) -> None:
    run_pipeline([inputs], output)


def _check_after_kill(out: Path, before: dict[str, Any]) -> dict[str, Any]:
    """The current output is complete (checksums match) and is the old run or a new one."""
    manifest = verify_output(out)
    run_dir = os.path.realpath(out / CURRENT)
    assert set(resolved_files(out).values()) == {os.path.join(run_dir, n) for n in STABLE_NAMES}
    if manifest["run_id"] != before["run_id"]:
        # The killed run had switched already: the previous complete run is still kept intact.
        old = out / RUNS_DIR / before["run_id"]
        for name, entry in before["files"].items():
            assert dedup_io._sha256(old / name) == entry["sha256"]
    return manifest


@pytest.mark.slow
def test_sigkill_at_random_moments_never_damages_the_published_output(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["dedup.pipeline", "tests.test_reliability"])
    big = write_synthetic(tmp_path / "big" / "articles.jsonl", 350)
    small = write_small(tmp_path / "small")
    out = tmp_path / "out"

    def run(inputs: Path) -> float:
        start = time.perf_counter()
        process = ctx.Process(target=_run_into, args=(str(inputs), str(out)))
        process.start()
        process.join()
        assert process.exitcode == 0
        return time.perf_counter() - start

    run(small)  # starts the fork server
    # The median of three runs: the first run of a fresh process pays one-time costs that
    # later runs do not, and a duration measured too long would put the kills after the run.
    duration = statistics.median(run(big) for _ in range(3))
    publish_seconds = json.loads((out / "report.json").read_text())["stages"][-1]["seconds"]
    rng = random.Random(20240305)
    n_spread, n_late = 20, 6
    # Stratified over the whole run (and a little past it), plus extra kills in its last moments,
    # where the outputs are written and published. Each kill time follows the run's duration
    # as last known: a run that finishes before its kill shows the runs are now quicker (the
    # machine is less busy), and later kill times are taken from its duration.
    # (fraction of the duration, seconds before that): the kill time is their difference.
    moments = [(1.1 * (i + rng.random()) / n_spread, 0.0) for i in range(n_spread)]
    moments += [(1.0, rng.uniform(0, max(3 * publish_seconds, 0.1))) for _ in range(n_late)]
    outcomes = {"killed": 0, "finished before the kill": 0, "switched to the new output": 0}
    for fraction, back in moments:
        before = verify_output(out)
        process = ctx.Process(target=_run_into, args=(str(big), str(out)))
        start = time.perf_counter()
        process.start()
        process.join(max(0.0, duration * fraction - back))
        if process.is_alive():
            process.kill()  # SIGKILL; no error when the run ended in between
        else:
            duration = min(duration, time.perf_counter() - start)
        process.join()
        killed = process.exitcode == -signal.SIGKILL
        assert killed or process.exitcode == 0
        outcomes["killed" if killed else "finished before the kill"] += 1
        after = _check_after_kill(out, before)
        outcomes["switched to the new output"] += after["run_id"] != before["run_id"]
        if killed:  # the next run succeeds on whatever was left (a small input keeps it quick)
            run(small)
            assert verify_output(out)["run_id"] != after["run_id"]
    assert not (out / ".work").exists()
    assert len(list((out / RUNS_DIR).iterdir())) == KEEP_RUNS
    print(f"\ncrash test: run {duration:.2f} s, publish {publish_seconds:.2f} s, {len(moments)} trials: {outcomes}")
    assert outcomes["killed"] >= len(moments) // 2


# --------------------------------------------------------------------------- locking


HOLD_LOCK = """
import sys, time
from dedup.io import output_lock
with output_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(out: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out), str(seconds)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_second_run_fails_at_once_with_one_clear_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = hold_lock(out, 30)
    try:
        with pytest.raises(OutputError) as failure:
            run_pipeline([write_small(tmp_path / "in")], out)
    finally:
        holder.kill()
        holder.wait()
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(f"output directory {out} is in use by another newsdedup run (pid {holder.pid} on ")
    assert message.endswith("wait for it to finish or choose another output directory")
    assert not (out / CURRENT).exists()  # nothing was written meanwhile
    run_pipeline([write_small(tmp_path / "in")], out)  # a killed holder leaves no stale lock


def test_second_run_waits_for_the_first_within_its_timeout(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = hold_lock(out, 1.0)
    start = time.perf_counter()
    try:
        run_pipeline([write_small(tmp_path / "in")], out, lock_timeout=30)
    finally:
        holder.wait()
    assert time.perf_counter() - start >= 0.5
    verify_output(out)
    holder = hold_lock(out, 30)
    try:
        with pytest.raises(OutputError, match=r"after waiting 0\.3 s"):
            run_pipeline([write_small(tmp_path / "in")], out, lock_timeout=0.3)
    finally:
        holder.kill()
        holder.wait()


def _logged_run(inputs: str, output: str, log: str) -> None:
    """run_pipeline with every stage's start and end appended to ``log`` (pid, stage, event)."""
    from dedup import pipeline

    def logged(name: str, stage: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with open(log, "a") as handle:
                handle.write(f"{os.getpid()} {name} start\n")
            result = stage(*args, **kwargs)
            with open(log, "a") as handle:
                handle.write(f"{os.getpid()} {name} end\n")
            return result

        return wrapper

    for name in ("ingest_articles", "compute_signatures", "find_duplicates", "group_events", "publish_outputs"):
        setattr(pipeline, name, logged(name, getattr(pipeline, name)))
    pipeline.run_pipeline([inputs], output, lock_timeout=60)


@pytest.mark.slow
def test_two_runs_at_once_take_turns_and_never_interleave(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["dedup.pipeline", "tests.test_reliability"])
    big = write_synthetic(tmp_path / "big" / "articles.jsonl", 150)
    out, log = tmp_path / "out", tmp_path / "stages.log"
    runs = [ctx.Process(target=_logged_run, args=(str(big), str(out), str(log))) for _ in range(2)]
    for process in runs:
        process.start()
    for process in runs:
        process.join()
    assert [p.exitcode for p in runs] == [0, 0]
    events = [line.split() for line in log.read_text().splitlines()]
    assert len(events) == 20
    pids = [pid for pid, _, _ in events]
    first = pids[0]
    assert pids == [first] * 10 + [p for p in pids if p != first], "the two runs interleaved"
    verify_output(out)
    assert len(list((out / RUNS_DIR).iterdir())) == 2


def test_lock_timeout_must_not_be_negative(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="lock timeout must be 0 or more"), output_lock(tmp_path, timeout=-1):
        pass


@pytest.mark.flow
def test_prefect_limit_is_created_per_output_and_queues_runs(prefect_server: None, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    from flows.pipeline import _output_limit

    name = _output_limit(tmp_path / "out")
    assert name == _output_limit(tmp_path / "out" / ".." / "out")  # created once, same name
    assert name != _output_limit(tmp_path / "other")
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(name).limit == 1
    with concurrency(name, timeout_seconds=5), pytest.raises(TimeoutError), concurrency(name, timeout_seconds=1):
        pass


# --------------------------------------------------------------------------- security


def test_hostile_headline_is_escaped_in_the_cluster_table(tmp_path: Path) -> None:
    from flows.artifacts import cluster_rows

    root = write_small(tmp_path / "in")
    headline = "Bridge opens <script>alert(1)</script> [details](javascript:alert(2)) today"
    (root / "hostile.txt").write_text(
        f"{headline}\n\nOfficials said on Thursday that the new bridge would open next spring, two years late. "
        "The transport office blamed costs. <img src=x onerror=alert(3)> Traders said [click](javascript:alert(4)) "
        "the delay had cost them customers.\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    run_pipeline([root], out)
    clusters = pq.read_table(out / "clusters.parquet").to_pylist()
    assert any(c["headline"] == headline for c in clusters)  # stored as written: escaping is the UI's job
    rows = cluster_rows(out / "clusters.parquet")
    row = next(r for r in rows if "Bridge opens" in r["headline"])
    for cell in (str(v) for r in rows for v in r.values()):
        assert "<" not in cell and ">" not in cell
        assert "](" not in cell and "[click]" not in cell and "[details]" not in cell
    assert "&lt;script&gt;" in row["headline"]


def test_outputs_and_stage_files_hold_no_pickle(tmp_path: Path) -> None:
    from dedup import pipeline

    out = tmp_path / "out"
    run_pipeline([write_small(tmp_path / "in")], out)
    work = tmp_path / "work"  # the stage files of a run, kept this time
    work.mkdir()
    config = PipelineConfig()
    pipeline.ingest_articles([tmp_path / "in"], work, config.ingest)
    pipeline.compute_signatures(work, config.minhash)
    pipeline.find_duplicates(work, config.minhash, config.duplicates)
    pipeline.group_events(work, config.cluster, config.summary)
    files = [p for p in [*out.rglob("*"), *work.rglob("*")] if p.is_file()]
    # "" is the lock file; ".arrow" the signatures stage's shingle sets (Arrow IPC, plain columns)
    assert {p.suffix for p in files} == {".parquet", ".json", ".arrow", ""}
    for path in files:
        data = path.read_bytes()
        assert not (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")), path
        assert b"cloudpickle" not in data and b"__reduce__" not in data, path
        if path.suffix == ".parquet":
            metadata = pq.read_schema(path).metadata or {}
            assert not any(b"pickle" in value for value in metadata.values()), path
        elif path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".arrow":
            import pyarrow as pa

            table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
            assert not any(isinstance(t, pa.ExtensionType) for t in table.schema.types), path
            assert not any(b"pickle" in value for value in (table.schema.metadata or {}).values()), path
        else:
            assert path.name == ".lock"


def test_symlinks_out_of_the_input_root_are_rejected(tmp_path: Path) -> None:
    root = write_small(tmp_path / "in")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Private notes\n\nThe password of the server is hunter2, said the admin.\n")
    os.symlink(outside / "secret.txt", root / "escape.txt")
    os.symlink("../outside", root / "escape-dir")
    os.symlink("doc0.txt", root / "alias.txt")  # inside the root: read like any file
    out = tmp_path / "out"
    run_pipeline([root], out)
    articles = pq.read_table(out / "articles.parquet").to_pylist()
    assert "secret" not in {a["article_id"] for a in articles}
    assert not any("hunter2" in a["text"] for a in articles)
    assert "alias" in {a["article_id"] for a in articles}
    rejects = {Path(r["input"]).name: r["reason"] for r in pq.read_table(out / "rejects.parquet").to_pylist()}
    assert rejects["escape.txt"] == f"symlink points outside the input root {str(root)!r}"
    assert rejects["escape-dir"] == f"symlink points outside the input root {str(root)!r}"


def test_size_and_count_limits_are_settings(tmp_path: Path) -> None:
    root = write_small(tmp_path / "in")
    long_text = "Long read\n\n" + "The council met again on Monday. " * 40
    (root / "a-long.txt").write_text(long_text, encoding="utf-8")
    out = tmp_path / "out"
    config = PipelineConfig(ingest=IngestConfig(max_article_chars=600, max_articles=4))
    run_pipeline([root], out, config)
    articles = pq.read_table(out / "articles.parquet").to_pylist()
    rejects = pq.read_table(out / "rejects.parquet").to_pylist()
    assert len(articles) == 4
    assert all(len(a["text"]) <= 600 for a in articles)
    assert rejects[0]["reason"] == f"text is {len(long_text)} characters, over max_article_chars=600"
    assert rejects[-1]["reason"].startswith("reached max_articles=4: stopped reading here")
    defaults = IngestConfig()
    assert defaults.max_article_chars == 1_000_000 and defaults.max_articles == 50_000_000
    with pytest.raises(ConfigError, match="max_articles must be positive"):
        IngestConfig(max_articles=0)


def test_publish_retried_with_the_same_run_id_succeeds(tmp_path: Path) -> None:
    from dedup.io import new_run_id, publish

    def staged(text: str) -> Path:
        staging = tmp_path / f"staging-{text}"
        staging.mkdir()
        (staging / "note.txt").write_text(text)
        return staging

    out = tmp_path / "out"
    run_id = new_run_id()
    first = publish(staged("a"), out, ["note.txt"], run_id=run_id)
    # A retry after the switch finds its run current and returns the same manifest.
    again = publish(staged("b"), out, ["note.txt"], run_id=run_id)
    assert again["run_id"] == first["run_id"] and (out / "note.txt").read_text() == "a"
    # A retry after a move that never switched replaces the stray run directory.
    stray = new_run_id()
    (out / ".runs" / stray).mkdir()
    publish(staged("c"), out, ["note.txt"], run_id=stray)
    assert (out / "note.txt").read_text() == "c"
