"""Artifact contents, checked as plain strings and bytes (no Prefect server)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from dedup import schema
from dedup.io import write_table
from dedup.pipeline import run_pipeline
from flows.artifacts import (
    FLOW_STAGES,
    cluster_rows,
    cluster_sizes_png,
    escape_markdown,
    png_data_uri,
    progress_description,
    report_markdown,
    timeline_png,
)
from tests.corpus import QUAKE_A, QUAKE_B, write_quake_corpus

HOSTILE = "<img src=x onerror=alert(1)> [click](http://evil.example) **Breaking** | `code` # www.evil.example"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two earthquakes, a rate decision with a hostile title, and an exact copy; no dates."""
    corpus = tmp_path_factory.mktemp("corpus")
    write_quake_corpus(corpus, HOSTILE)
    output = tmp_path_factory.mktemp("out")
    return run_pipeline([corpus], output), output


def hostile_title(output: Path) -> str:
    """The hostile title as ingest kept it (HTML tags are stripped there; markdown stays)."""
    title = next(
        a["title"] for a in pq.read_table(output / "articles.parquet").to_pylist() if a["article_id"] == "doc6"
    )
    assert "[click](http://evil.example)" in title and "**Breaking**" in title
    return title


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
    with Image.open(io.BytesIO(png)) as image:
        return image.size


# -- escaping ---------------------------------------------------------------------------------


def test_escape_makes_html_and_markdown_inert():
    escaped = escape_markdown(HOSTILE)
    assert "<" not in escaped and ">" not in escaped
    assert "&lt;img" in escaped
    assert "](" not in escaped and "**" not in escaped and "`" not in escaped.replace("\\`", "")
    assert "http\\://" in escaped and "www\\." in escaped  # no autolinks either
    assert "\\|" in escaped  # a table cell cannot be split


def test_escape_flattens_and_caps():
    assert escape_markdown("a\n\n b\tc") == "a b c"
    assert escape_markdown("x" * 50, limit=10) == "x" * 9 + "…"
    assert escape_markdown(None) == "" and escape_markdown("") == ""


@given(st.text(max_size=300))
def test_escape_leaves_no_unescaped_markup(text):
    escaped = escape_markdown(text, limit=1000)
    assert "<" not in escaped and ">" not in escaped and "\n" not in escaped
    i = 0
    while i < len(escaped):
        if escaped[i] == "\\":
            i += 2  # an escaped character, shown as itself
            continue
        assert escaped[i] not in "\\`*_{}[]()#+!|~:-", (text, escaped, i)
        i += 1


# -- the cluster table -----------------------------------------------------------------------------


def test_cluster_rows_columns_and_escaping(run):
    _, output = run
    rows = cluster_rows(output / "clusters.parquet")
    clusters = pq.read_table(output / "clusters.parquet").to_pylist()
    assert len(rows) == len(clusters) >= 3
    assert list(rows[0]) == ["headline", "size", "sources", "time span", "summary", "cluster"]
    assert [r["cluster"] for r in rows] == [c["cluster_id"] for c in clusters]
    assert [r["size"] for r in rows] == sorted((r["size"] for r in rows), reverse=True)  # largest first
    assert sum(r["size"] for r in rows) == 8
    assert escape_markdown(hostile_title(output), 200) in [r["headline"] for r in rows]
    assert all(r["time span"] == "no dates" for r in rows)
    assert all(0 < len(r["summary"]) <= 221 for r in rows)  # short: table cells do not wrap


def test_cluster_rows_are_capped(tmp_path):
    start = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    rows = [
        {
            "cluster_id": f"ev-{i:012x}",
            "size": 1,
            "n_canonical": 1,
            "article_ids": [f"a{i}"],
            "representative_id": f"a{i}",
            "headline": f"Headline {i}",
            "summary": "One sentence.",
            "summary_sentences": ["One sentence."],
            "top_terms": [],
            "entities": [],
            "places": [],
            "sources": ["Wire"],
            "first_published": start,
            "last_published": start + timedelta(hours=3),
        }
        | {"cohesion": 1.0}
        for i in range(450)
    ]
    write_table(rows, tmp_path / "clusters.parquet", schema.CLUSTERS)
    table = cluster_rows(tmp_path / "clusters.parquet")
    assert len(table) == 200
    assert table[0]["time span"] == "2024-05-01 08:00 – 2024-05-01 11:00"
    assert len(cluster_rows(tmp_path / "clusters.parquet", limit=10)) == 10


# -- the markdown report -------------------------------------------------------------------------


def test_report_counts_clusters_and_duplicates(run):
    report, output = run
    markdown = report_markdown(report, output, notes=["No article has a publication date."])
    for stage in ("ingest", "signatures", "duplicates", "events", "publish"):
        assert f"| {stage} |" in markdown
    clusters = pq.read_table(output / "clusters.parquet").to_pylist()
    assert f"**8 articles, 1 duplicate, {len(clusters)} clusters.**" in markdown
    assert (output / "clusters.parquet").resolve().as_uri() in markdown
    for cluster in clusters[:5]:
        assert escape_markdown(cluster["headline"], 200) in markdown
        assert escape_markdown(cluster["summary"], 3000) in markdown
    for title, _ in QUAKE_A + QUAKE_B:  # member titles
        assert escape_markdown(title, 200) in markdown
    assert "(representative)" in markdown
    assert "## Duplicates (1)" in markdown and "1 exact copies" in markdown
    assert "| doc0\\-copy |" in markdown and "| doc0 | 1.00 | exact |" in markdown
    assert "No article has a publication date." in markdown


def test_report_escapes_article_text(run):
    report, output = run
    markdown = report_markdown(report, output)
    assert escape_markdown(hostile_title(output), 200) in markdown
    assert "[click](" not in markdown and "**Breaking**" not in markdown and "`code`" not in markdown
    assert "<" not in markdown


def test_report_limits_and_empty_duplicates(run):
    report, output = run
    markdown = report_markdown(report, output, clusters=1, duplicates=0)
    n_clusters = pq.read_metadata(output / "clusters.parquet").num_rows
    assert f"## Largest clusters (1 of {n_clusters})" in markdown
    assert markdown.count("\n### ") == 1


# -- images --------------------------------------------------------------------------------------


def test_cluster_sizes_png_is_a_small_valid_image():
    png = cluster_sizes_png([1, 1, 1, 2, 3, 3, 7])
    width, height = png_size(png)
    assert 300 < width < 1200 and 150 < height < 800
    assert len(png) < 100_000


def test_cluster_sizes_png_with_large_or_no_clusters():
    png_size(cluster_sizes_png([1] * 500 + [40, 120, 900]))
    png_size(cluster_sizes_png([]))


def test_data_uri_round_trips():
    png = cluster_sizes_png([1, 2])
    uri = png_data_uri(png)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == png


def test_timeline_draws_dated_clusters_and_skips_without_dates():
    start = datetime(2022, 1, 10, 9, 0, tzinfo=UTC)
    clusters = [
        {"cluster_id": "ev-a", "headline": "Talks in $Geneva$ end", "size": 3},
        {"cluster_id": "ev-b", "headline": "Undated story", "size": 2},
    ]
    dates = {"ev-a": [start, start + timedelta(days=1), start + timedelta(days=2)]}
    png_size(timeline_png(clusters, dates))  # a "$" in a headline is not parsed as math
    png_size(timeline_png(clusters[:1], {"ev-a": [start]}))  # one instant
    assert timeline_png(clusters, {}) is None


def test_timeline_of_a_pipeline_output_without_dates(run):
    _, output = run
    clusters = pq.read_table(output / "clusters.parquet").to_pylist()
    assert timeline_png(clusters, {}) is None


# -- progress ------------------------------------------------------------------------------------


def test_progress_description():
    total = len(FLOW_STAGES)
    assert progress_description([], total) == f"0 of {total} stages done"
    assert progress_description(["ingest", "signatures"], total) == f"2 of {total} stages done (last: signatures)"
    assert progress_description(list(FLOW_STAGES), total) == f"all {total} stages done"


def test_outputs_are_read_not_modified(run):
    _, output = run
    before = {p.name: p.stat().st_mtime_ns for p in Path(output).iterdir()}
    report_markdown(run[0], output)
    cluster_rows(output / "clusters.parquet")
    assert before == {p.name: p.stat().st_mtime_ns for p in Path(output).iterdir()}
