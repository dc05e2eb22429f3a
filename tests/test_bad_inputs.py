"""The whole pipeline on bad inputs: each case next to good articles, in one run.

For every case, :func:`run_pipeline` completes, every good article is in ``articles.parquet``
and every bad item is one ``rejects.parquet`` row saying where it was (file and line) and why.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dedup import ingest
from dedup.pipeline import run_pipeline
from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED

GOOD = {f"good{i}": (title, text) for i, (title, text) in enumerate([*QUAKE_A, *QUAKE_B, UNRELATED])}
PROSE = (
    "Officials in the northern province said on Thursday that the new bridge across the river would "
    "open next spring, two years later than planned. The regional transport office blamed rising costs "
    "and a shortage of steel. Local traders said the delay had already cost them customers."
)
LATIN1 = (
    "Le maire de Genève a déclaré jeudi que la rénovation du pont serait achevée au printemps. "
    "Les commerçants du quartier, inquiets, réclament une aide financière à la municipalité. "
    "Selon l'office régional, les coûts ont augmenté de trente pour cent depuis l'été dernier."
)
UTF16 = (
    "Der Bürgermeister von Zürich kündigte am Freitag an, dass die Straßenbahnlinie im Herbst "
    "verlängert wird. Anwohner begrüßten die Entscheidung, forderten aber mehr Lärmschutz. "
    "Die Bauarbeiten sollen im März beginnen und zwei Jahre dauern."
)


@dataclass
class Case:
    """Files to add next to the good articles, and what the run must make of them."""

    files: dict[str, bytes | str | Callable[[Path], None]]
    kept: set[str] = field(default_factory=set)
    rejects: list[tuple[str, str, str, bool]] = field(default_factory=list)  # (file, record, reason, dropped)


def line(record: dict[str, Any]) -> str:
    return json.dumps(record) + "\n"


def gz_truncated(path: Path) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed:
        for i in range(1, 4):
            packed.write(line({"id": f"gz{i}", "text": f"{PROSE} Item {i}."}).encode())
        # Incompressible filler so that cutting the stream lands after the first three lines.
        packed.write(line({"id": "gz4", "text": os.urandom(30_000).hex()}).encode())
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) - 20_000])


def symlink_loop(path: Path) -> None:
    path.mkdir()
    os.symlink(".", path / "again")  # a cycle back to the directory itself
    os.symlink("ping", path / "pong.txt")  # two links pointing at each other
    os.symlink("pong.txt", path / "ping")


def big_txt(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # 50 MB, sparse: written quickly
        handle.seek(0)
        handle.write(PROSE.encode())


def big_jsonl(path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(line({"id": "before-big", "text": PROSE}))
        handle.write('{"id": "big", "text": "' + "word " * (10 * 1024 * 1024) + '"}\n')  # a 50 MB line
        handle.write(line({"id": "after-big", "text": PROSE + " Later."}))


MAX_CHARS = 1_000_000
CASES: dict[str, Case] = {
    "empty file": Case({"empty.txt": b""}, rejects=[("empty.txt", "", "empty file", True)]),
    "whitespace only": Case({"blank.txt": " \n\t\r\n  "}, rejects=[("blank.txt", "", "only whitespace", True)]),
    "binary named .txt": Case(
        {"photo.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4},
        rejects=[("photo.txt", "", "binary content, not text (contains NUL bytes)", True)],
    ),
    "Latin-1 text": Case({"latin1.txt": f"Pont de Genève\n\n{LATIN1}\n".encode("latin-1")}, kept={"latin1"}),
    "UTF-16 text with BOM": Case({"utf16.txt": f"Zürich Tram\n\n{UTF16}\n".encode("utf-16")}, kept={"utf16"}),
    "invalid UTF-8 in JSON Lines": Case(
        {"bad-utf8.jsonl": line({"id": "u1", "text": PROSE}).encode() + b'{"id": "u2", "text": "caf\xe9 \xff"}\n'},
        kept={"u1"},
        rejects=[("bad-utf8.jsonl", "line 2", "not valid UTF-8 (byte 0xe9 at column 26)", True)],
    ),
    "50 MB article (.txt)": Case(
        {"huge.txt": big_txt},
        rejects=[
            (
                "huge.txt",
                "",
                f"file is {50 * 1024 * 1024} bytes, too long for a text of at most max_article_chars={MAX_CHARS} characters",
                True,
            )
        ],
    ),
    "50 MB article (JSON line)": Case(
        {"huge.jsonl": big_jsonl},
        kept={"before-big", "after-big"},
        rejects=[
            (
                "huge.jsonl",
                "line 2",
                f"line is over {6 * MAX_CHARS + (1 << 20)} bytes, more than any article within "
                f"max_article_chars={MAX_CHARS} needs; skipped",
                True,
            )
        ],
    ),
    "malformed JSON line in the middle": Case(
        {
            "feed.jsonl": line({"id": "f1", "text": PROSE})
            + '{"id": "f2", "text": \n'
            + line({"id": "f3", "text": PROSE + " More."})
        },
        kept={"f1", "f3"},
        rejects=[("feed.jsonl", "line 2", "invalid JSON at column 22: Expecting value", True)],
    ),
    "JSON array instead of lines": Case(
        {"array.jsonl": json.dumps([{"id": "a1", "text": PROSE}], indent=2)},
        rejects=[("array.jsonl", "", ingest._JSON_ARRAY_REASON, True)],
    ),
    "JSON document: an item that is no article": Case(
        {"feed.json": json.dumps([{"id": "j1", "text": PROSE}, 7, {"id": "j3", "text": PROSE + " Later."}], indent=2)},
        kept={"j1", "j3"},
        rejects=[("feed.json", "item 2", "expected a JSON object, got a number", True)],
    ),
    "JSON document cut short": Case(
        {"cut.json": json.dumps([{"id": "c1", "text": PROSE}], indent=2)[:-3]},
        rejects=[("cut.json", "", "invalid JSON at line 5 column 3: Expecting ',' delimiter", True)],
    ),
    "missing text": Case(
        {"notext.jsonl": line({"id": "n1", "title": "No body"}) + line({"id": "n2", "text": PROSE})},
        kept={"n2"},
        rejects=[("notext.jsonl", "line 1",
                  "missing 'text' (or 'content', 'body', 'article', 'maintext', 'full_text', 'story', "
                  "'article_body', 'article_text', 'body_text')", True)],
    ),
    "CSV row with more values than the header": Case(
        {"feed.csv": f'id,text\nc1,"{PROSE}"\nc2,one,two\nc3,"{PROSE} Later."\n'},
        kept={"c1", "c3"},
        rejects=[("feed.csv", "", "a row of 3 values where the header names 2 ('c2,one,two'); row skipped", True)],
    ),
    "duplicate ids with different text": Case(
        {"dupes.jsonl": line({"id": "d1", "text": PROSE}) + line({"id": "d1", "text": LATIN1})},
        kept={"d1"},
        rejects=[
            (
                "dupes.jsonl",
                "line 2",
                "duplicate id 'd1' (first seen in in/dupes.jsonl line 1) with different text",
                True,
            )
        ],
    ),
    "non-string ids": Case(
        {
            "ids.jsonl": line({"id": 3.5, "text": PROSE})
            + line({"id": ["x"], "text": PROSE})
            + line({"id": None, "text": PROSE})
            + line({"id": True, "text": PROSE})
            + line({"id": 42, "text": PROSE + " Integer ids are fine."})
        },
        kept={"42"},
        rejects=[
            ("ids.jsonl", "line 1", "'id' is a number 3.5: ids must be strings or integers", True),
            ("ids.jsonl", "line 2", "'id' is an array: ids must be strings or integers", True),
            ("ids.jsonl", "line 3", "'id' is null: ids must be strings or integers", True),
            ("ids.jsonl", "line 4", "'id' is a boolean true: ids must be strings or integers", True),
        ],
    ),
    "unparseable and future dates": Case(
        {
            "dates.jsonl": line({"id": "t1", "text": PROSE, "published_at": "the day after the storm"})
            + line({"id": "t2", "text": PROSE + " Again.", "published_at": "2999-01-01T00:00:00Z"})
        },
        kept={"t1", "t2"},
        rejects=[
            ("dates.jsonl", "line 1", "published_at 'the day after the storm' ignored: not a recognised date", False),
            (
                "dates.jsonl",
                "line 2",
                "published_at '2999-01-01T00:00:00Z' ignored: more than 2 days in the future",
                False,
            ),
        ],
    ),
    "HTML markup inside text": Case(
        {
            "markup.jsonl": line(
                {
                    "id": "h1",
                    "text": f"<div><p>{PROSE}</p><script>steal(document.cookie)</script><p>Second paragraph here.</p></div>",
                }
            )
        },
        kept={"h1"},
    ),
    "hostile title": Case(
        {
            "hostile.jsonl": line(
                {
                    "id": "x1",
                    "title": "<script>alert(1)</script>Bridge [click](javascript:alert(2)) delayed",
                    "text": PROSE,
                }
            )
        },
        kept={"x1"},
    ),
    "truncated .jsonl.gz": Case(
        {"cut.jsonl.gz": gz_truncated},
        kept={"gz1", "gz2", "gz3"},
        rejects=[
            (
                "cut.jsonl.gz",
                "line 4",
                "gzip data truncated after line 3 (Compressed file ended before the end-of-stream marker was reached); "
                "earlier lines were kept",
                True,
            )
        ],
    ),
    "unknown extension": Case(
        {"report.docx": b"PK\x03\x04 not an article"},
        rejects=[
            (
                "report.docx",
                "",
                "unsupported file type '.docx' (expected one of .txt, .jsonl, .ndjson, .jsonl.gz, .ndjson.gz, "
                ".json, .json.gz, .parquet, .csv, .tsv, .csv.gz, .tsv.gz, .html, .htm, .rss, .atom, .xml)",
                True,
            )
        ],
    ),
    "symlink loop": Case(
        {"loop": symlink_loop},
        # The cycle through "again" is walked once (no reject: nothing is lost); each of the two
        # links that point at each other is a reject.
        rejects=[
            ("loop/ping", "", "broken symlink: Too many levels of symbolic links", True),
            ("loop/pong.txt", "", "broken symlink: Too many levels of symbolic links", True),
        ],
    ),
}


def write_good(root: Path) -> None:
    (root / "good").mkdir(parents=True)
    for article_id, (title, text) in GOOD.items():
        (root / "good" / f"{article_id}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")


def write_case(root: Path, case: Case) -> None:
    for name, content in case.files.items():
        path = root / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def rows(output: Path, name: str) -> list[dict[str, Any]]:
    return pq.read_table(output / name).to_pylist()


def reject_rows(output: Path, root: Path) -> list[tuple[str, str, str, bool]]:
    return sorted(
        (os.path.relpath(r["input"], root), r["record"], r["reason"], r["dropped"])
        for r in rows(output, "rejects.parquet")
    )


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inputs display relative to the working directory: ``in/feed.jsonl``."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_next_to_good_articles(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    root = Path("in")
    write_good(root)
    write_case(root, case)
    run_pipeline([root], tmp_path / "out")
    kept = {a["article_id"] for a in rows(tmp_path / "out", "articles.parquet")}
    assert kept == set(GOOD) | case.kept
    assert reject_rows(tmp_path / "out", root) == sorted(case.rejects)


def test_every_case_at_once(tmp_path: Path) -> None:
    root = Path("in")
    write_good(root)
    expected_kept, expected_rejects = set(GOOD), []
    for name, case in CASES.items():
        if "50 MB" in name:
            continue  # covered above; here they would only slow the run down
        write_case(root, case)
        expected_kept |= case.kept
        expected_rejects += case.rejects
    run_pipeline([root], tmp_path / "out")
    articles = {a["article_id"]: a for a in rows(tmp_path / "out", "articles.parquet")}
    assert set(articles) == expected_kept
    assert reject_rows(tmp_path / "out", root) == sorted(expected_rejects)
    # Decoded, not mangled: legacy 8-bit and UTF-16 text arrive as written.
    assert "déclaré" in articles["latin1"]["text"] and "Genève" in articles["latin1"]["title"]
    assert "Straßenbahnlinie" in articles["utf16"]["text"]
    # Markup reduced to its text; script contents never reach the text or the title.
    assert "<" not in articles["h1"]["text"] and "steal" not in articles["h1"]["text"]
    assert "Second paragraph here." in articles["h1"]["text"]
    assert articles["x1"]["title"] == "Bridge [click](javascript:alert(2)) delayed"
    assert articles["t1"]["published_at"] is None and articles["t2"]["published_at"] is None


def test_unreadable_file_is_a_reject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, whom chmod 000 does not stop: the open() of one file is made to fail
    # with the PermissionError a non-root reader would get.
    root = Path("in")
    write_good(root)
    (root / "private.txt").write_text(f"Secret\n\n{PROSE}\n", encoding="utf-8")
    real_open = open

    def guarded_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.path.basename(path) == "private.txt":
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(ingest, "open", guarded_open, raising=False)
    run_pipeline([root], tmp_path / "out")
    assert {a["article_id"] for a in rows(tmp_path / "out", "articles.parquet")} == set(GOOD)
    assert reject_rows(tmp_path / "out", root) == [("private.txt", "", "cannot open file: Permission denied", True)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_really_chmod_000(tmp_path: Path) -> None:
    root = Path("in")
    write_good(root)
    private = root / "private.txt"
    private.write_text(PROSE, encoding="utf-8")
    private.chmod(0)
    run_pipeline([root], tmp_path / "out")
    assert reject_rows(tmp_path / "out", root) == [("private.txt", "", "cannot open file: Permission denied", True)]


def make_small_files(root: Path, n: int, distinct: int = 300) -> None:
    """``n`` small articles in one directory, written as ``distinct`` texts (the rest copies)."""
    root.mkdir(parents=True)
    words = [f"w{i}" for i in range(5000)]
    texts = [" ".join(words[(k * 7919 + j * 104729) % 5000] for j in range(25)) for k in range(distinct)]
    for i in range(n):
        fd = os.open(root / f"n{i:06d}.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, f"Note {i % distinct}\n\n{texts[i % distinct]}.\n".encode())
        os.close(fd)


def run_many(tmp_path: Path, n: int) -> dict[str, float]:
    start = time.perf_counter()
    make_small_files(tmp_path / "many", n)
    made = time.perf_counter()
    report = run_pipeline([tmp_path / "many"], tmp_path / "out")
    done = time.perf_counter()
    articles = pq.read_metadata(tmp_path / "out" / "articles.parquet").num_rows
    assert articles == n
    assert pq.read_metadata(tmp_path / "out" / "rejects.parquet").num_rows == 0
    assert report.stages[0].counts["accepted"] == n
    return {"write files": made - start, "run_pipeline": done - made}


@pytest.mark.slow
def test_directory_of_10k_small_files(tmp_path: Path) -> None:
    timings = run_many(tmp_path, 10_000)
    print(f"10k small files: {timings}")


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("NEWSDEDUP_HUGE_TESTS") != "1", reason="about 100 s; set NEWSDEDUP_HUGE_TESTS=1 to run"
)
def test_directory_of_100k_small_files(tmp_path: Path) -> None:
    timings = run_many(tmp_path, 100_000)
    print(f"100k small files: {timings}")
