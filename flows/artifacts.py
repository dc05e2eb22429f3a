"""Prefect artifacts of a run: the run's page in the Prefect UI is where it is inspected.

A run creates:

- ``newsdedup-progress``: stages done so far, advanced as each stage completes;
- ``newsdedup-clusters``: a table of the largest clusters (headline, size, sources, time span,
  summary), capped at :data:`TABLE_ROWS` rows, with a link to ``clusters.parquet``;
- ``newsdedup-report``: markdown with the counts of every stage, the largest clusters with
  their summary and member titles, and the duplicates found;
- ``newsdedup-cluster-sizes`` and ``newsdedup-timeline``: small PNG charts (data URIs);
- ``newsdedup-output``: a link to the output directory.

A run with history (``incremental``) also creates ``newsdedup-new-clusters``,
``newsdedup-updated-clusters`` and ``newsdedup-history-duplicates`` (new articles found to be
copies of articles of earlier runs).

Everything but :func:`publish_artifacts` and :class:`StageProgress` is a plain function that
returns a string, rows or PNG bytes, so it can be checked without a Prefect server. All article
text shown in the UI goes through :func:`escape_markdown`: headlines and summaries come from
the web and must not inject HTML or markdown into the Prefect UI.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pyarrow.parquet as pq
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter
from prefect.artifacts import (
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from dedup.pipeline import RunReport, StageResult

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|>~:-])")
# A bare "www." would still be turned into a link by the UI's markdown renderer.
_BARE_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)
#: Characters of a summary shown in a table cell (cells do not wrap); the report has it all.
CELL_SUMMARY = 220
#: Rows of the cluster table artifact; every cluster is in ``clusters.parquet``.
TABLE_ROWS = 200
#: Clusters described in full in the markdown report.
REPORT_CLUSTERS = 5
#: Duplicate pairs listed in the markdown report.
REPORT_DUPLICATES = 50
#: Clusters drawn on the timeline.
TIMELINE_CLUSTERS = 20
FLOW_STAGES = ("ingest", "signatures", "duplicates", "events", "publish", "artifacts")

__all__ = [
    "FLOW_STAGES",
    "StageProgress",
    "cluster_rows",
    "cluster_sizes_png",
    "escape_markdown",
    "history_rows",
    "png_data_uri",
    "progress_description",
    "publish_artifacts",
    "publish_history_artifacts",
    "report_markdown",
    "timeline_png",
]


def escape_markdown(text: str | None, limit: int = 600) -> str:
    """Plain text made inert in markdown and HTML: entities for ``<>&``, backslashes before
    markdown punctuation (``:`` too, so that URLs are not turned into links), no line breaks,
    at most ``limit`` characters.

    >>> escape_markdown("<b>Hi</b> [x](y) | *z*")
    '&lt;b&gt;Hi&lt;/b&gt; \\\\[x\\\\]\\\\(y\\\\) \\\\| \\\\*z\\\\*'
    """
    if not text:
        return ""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BARE_WWW.sub(r"\1\\.", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.strftime(fmt) if value is not None else ""


def _span(first: datetime | None, last: datetime | None) -> str:
    if first is None:
        return "no dates"
    if last is None or _when(first) == _when(last):
        return _when(first)
    return f"{_when(first)} – {_when(last)}"


def _read(path: Path, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    return pq.read_table(path, columns=list(columns) if columns else None).to_pylist()


def cluster_rows(clusters_path: Path, limit: int = TABLE_ROWS) -> list[dict[str, Any]]:
    """The ``limit`` largest clusters as rows for a table artifact (text escaped).

    ``clusters.parquet`` is written largest first, so the first rows are the largest.
    """
    table = pq.read_table(clusters_path).slice(0, limit).to_pylist()
    return [
        {
            "headline": escape_markdown(row["headline"], 200),
            "size": row["size"],
            "sources": escape_markdown(", ".join(row["sources"]), 200),
            "time span": _span(row["first_published"], row["last_published"]),
            "summary": escape_markdown(_lead(row["summary_sentences"], CELL_SUMMARY), CELL_SUMMARY),
            "cluster": row["cluster_id"],
        }
        for row in table
    ]


def _lead(sentences: Sequence[str], limit: int) -> str:
    """The first sentences of a summary that fit in ``limit`` characters (at least one)."""
    text = ""
    for sentence in sentences:
        if text and len(text) + 1 + len(sentence) > limit:
            break
        text = f"{text} {sentence}".strip()
    return text


def _stage_table(report: RunReport) -> list[str]:
    lines = ["| stage | seconds | counts |", "|---|---:|---|"]
    for stage in report.stages:
        counts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in stage.counts.items())
        lines.append(f"| {stage.stage} | {stage.seconds:.2f} | {counts} |")
    return lines


def report_markdown(
    report: RunReport,
    output: Path,
    *,
    clusters: int = REPORT_CLUSTERS,
    duplicates: int = REPORT_DUPLICATES,
    notes: Sequence[str] = (),
) -> str:
    """Markdown report of a run written to ``output``.

    Counts and timings of every stage, the ``clusters`` largest clusters with their summary and
    member titles, and the first ``duplicates`` copies with what they copy. ``notes`` are
    plain sentences added at the end (for example why a chart is missing); they are escaped.
    """
    cluster_table = _read(output / "clusters.parquet")
    articles = {
        a["article_id"]: a
        for a in _read(output / "articles.parquet", ["article_id", "title", "source", "published_at"])
    }
    copies = _read(output / "duplicates.parquet")
    n_articles = len(articles)
    lines = [
        "# newsdedup run",
        "",
        f"**{_count(n_articles, 'article')}, {_count(len(copies), 'duplicate')}, "
        f"{_count(len(cluster_table), 'cluster')}.** "
        f"Output: {escape_markdown(str(output))}; every row is in "
        f"[clusters.parquet]({(output / 'clusters.parquet').resolve().as_uri()}).",
        "",
        "## Stages",
        "",
        *_stage_table(report),
        "",
        f"## Largest clusters ({min(clusters, len(cluster_table))} of {len(cluster_table)})",
    ]
    for rank, row in enumerate(cluster_table[:clusters], start=1):
        sources = escape_markdown(", ".join(row["sources"]), 200) or "unknown sources"
        lines += [
            "",
            f"### {rank}\\. {escape_markdown(row['headline'], 200)}",
            "",
            f"`{row['cluster_id']}`: {row['size']} articles ({row['n_canonical']} not copies) from {sources}; "
            f"{_span(row['first_published'], row['last_published'])}; cohesion {row['cohesion']:.2f}.",
            "",
            f"> {escape_markdown(row['summary'], 3000)}",
            "",
        ]
        if row["entities"]:
            lines.append(f"Names: {escape_markdown(', '.join(row['entities']), 300)}.")
            lines.append("")
        for article_id in row["article_ids"][:20]:
            article = articles.get(article_id, {})
            title = escape_markdown(article.get("title"), 200) or "(no title)"
            detail = ", ".join(
                x
                for x in (escape_markdown(article.get("source"), 80), _when(article.get("published_at"), "%Y-%m-%d"))
                if x
            )
            marks = " (representative)" if article_id == row["representative_id"] else ""
            lines.append(f"- {title} — {escape_markdown(article_id)}{', ' + detail if detail else ''}{marks}")
        if len(row["article_ids"]) > 20:
            lines.append(f"- … and {len(row['article_ids']) - 20} more")
    lines += ["", f"## Duplicates ({len(copies)})", ""]
    if copies:
        methods = {m: sum(c["method"] == m for c in copies) for m in sorted({c["method"] for c in copies})}
        lines += [
            ", ".join(f"{n} {m}" for m, n in methods.items()) + f" copies; the first {min(duplicates, len(copies))}:",
            "",
            "| copy | title | copy of | similarity | method |",
            "|---|---|---|---:|---|",
        ]
        for copy in copies[:duplicates]:
            title = escape_markdown(articles.get(copy["article_id"], {}).get("title"), 150)
            lines.append(
                f"| {escape_markdown(copy['article_id'])} | {title} | {escape_markdown(copy['duplicate_of'])} | "
                f"{copy['similarity']:.2f} | {copy['method']} |"
            )
    else:
        lines.append("No duplicates found: every article is its own canonical copy.")
    if notes:
        lines += ["", "## Notes", "", *(f"- {escape_markdown(note)}" for note in notes)]
    return "\n".join(lines) + "\n"


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def png_data_uri(png: bytes) -> str:
    """A ``data:`` URI for an image artifact."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def cluster_sizes_png(sizes: Sequence[int]) -> bytes:
    """Bar chart of how many clusters have each size (log-spaced bins for large clusters)."""
    figure = Figure(figsize=(6.4, 3.0), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    values = np.asarray(sizes, dtype=np.int64)
    if len(values) == 0:
        axes.text(0.5, 0.5, "no clusters", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return _png(figure)
    if values.max() <= 30:
        counts = np.bincount(values)[1:]
        axes.bar(np.arange(1, len(counts) + 1), counts, width=0.8, color="#2f6db5")
        axes.set_xticks(np.arange(1, len(counts) + 1, max(1, len(counts) // 15)))
    else:
        edges = np.unique(np.geomspace(1, values.max() + 1, 16).astype(np.int64))
        counts, _ = np.histogram(values, bins=edges)
        axes.bar(edges[:-1], counts, width=np.diff(edges) * 0.9, align="edge", color="#2f6db5")
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(FormatStrFormatter("%d"))
    if counts.max() > 50 * max(1, counts[counts > 0].min()):
        axes.set_yscale("log")  # singletons would flatten every other bar
    axes.set_xlabel("articles per cluster")
    axes.set_ylabel("clusters")
    title = f"Cluster sizes: {_count(len(values), 'cluster')}, {_count(int(values.sum()), 'article')}"
    axes.set_title(title, fontsize=11)
    if axes.get_yscale() == "linear":
        axes.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def timeline_png(clusters: Sequence[dict[str, Any]], dates: dict[str, list[datetime]]) -> bytes | None:
    """Timeline of the largest dated clusters: a line from first to last publication and a dot
    per dated member. ``clusters`` are rows of ``clusters.parquet``; ``dates`` maps a
    cluster id to its members' publication times. ``None`` when no cluster has a date.
    """
    dated = [c for c in clusters if dates.get(c["cluster_id"])][:TIMELINE_CLUSTERS]
    if not dated:
        return None
    n_articles = sum(c["size"] for c in clusters)
    n_dated = sum(len(v) for v in dates.values())
    figure = Figure(figsize=(7.2, 1.4 + 0.28 * len(dated)), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    for y, cluster in enumerate(dated):
        when = sorted(dates[cluster["cluster_id"]])
        axes.plot([when[0], when[-1]], [y, y], color="#2f6db5", linewidth=2, alpha=0.6)
        axes.scatter(when, [y] * len(when), s=18, color="#2f6db5", zorder=3)
    labels = [f"{_short(c['headline'])} ({c['size']})" for c in dated]
    axes.set_yticks(range(len(dated)), labels, fontsize=8, parse_math=False)
    axes.invert_yaxis()
    every = [d for v in dates.values() for d in v]
    low, high = min(every), max(every)
    if high - low < timedelta(hours=2):
        axes.set_xlim(low - timedelta(hours=12), high + timedelta(hours=12))
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    title = f"{_count(len(dated), 'dated cluster')} over publication time, largest first (articles in brackets)"
    if n_dated < n_articles:
        title += f"\n{n_articles - n_dated} of {n_articles} articles have no date and are not drawn"
    figure.suptitle(title, fontsize=9, x=0.01, ha="left")
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def _short(text: str, limit: int = 45) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _member_dates(output: Path) -> dict[str, list[datetime]]:
    dates: dict[str, list[datetime]] = {}
    for article in _read(output / "articles.parquet", ["cluster_id", "published_at"]):
        if article["published_at"] is not None:
            dates.setdefault(article["cluster_id"], []).append(article["published_at"])
    return dates


def progress_description(done: Sequence[str], total: int) -> str:
    """What the progress artifact says after the stages ``done``."""
    if not done:
        return f"0 of {total} stages done"
    if len(done) >= total:
        return f"all {total} stages done"
    return f"{len(done)} of {total} stages done (last: {done[-1]})"


class StageProgress:
    """The run's progress artifact, advanced when each stage of the flow completes.

    The library's stages report only when they finish, so the bar moves once per stage.
    Create it inside a flow run.
    """

    def __init__(self, stages: Sequence[str] = FLOW_STAGES, key: str = "newsdedup-progress") -> None:
        self.stages = tuple(stages)
        self.done_: list[str] = []
        self.artifact_id_: UUID = create_progress_artifact(
            0.0, key=key, description=progress_description([], len(self.stages))
        )

    def advance(self, result: StageResult | str) -> StageResult | str:
        """Mark a stage (its result or its name) as done; return ``result`` unchanged."""
        self.done_.append(result if isinstance(result, str) else result.stage)
        percent = round(100.0 * min(len(self.done_), len(self.stages)) / len(self.stages), 1)
        update_progress_artifact(
            self.artifact_id_, percent, description=progress_description(self.done_, len(self.stages))
        )
        return result


def publish_artifacts(report: RunReport, output: Path) -> None:
    """Create the run's artifacts in Prefect (call inside a flow or task run)."""
    clusters_path = output / "clusters.parquet"
    clusters = _read(clusters_path)
    rows = cluster_rows(clusters_path)
    parquet_link = f"[clusters.parquet]({clusters_path.resolve().as_uri()})"
    create_table_artifact(
        key="newsdedup-clusters",
        table=rows,
        description=f"Event clusters, largest first: {len(rows)} of {len(clusters)} shown, all in {parquet_link}",
    )
    create_image_artifact(
        image_url=png_data_uri(cluster_sizes_png([c["size"] for c in clusters])),
        key="newsdedup-cluster-sizes",
        description="How many clusters have each size",
    )
    notes = []
    timeline = timeline_png(clusters, _member_dates(output))
    if timeline is None:
        notes.append("No article has a publication date, so the timeline of clusters is not drawn.")
    else:
        create_image_artifact(
            image_url=png_data_uri(timeline),
            key="newsdedup-timeline",
            description="The largest dated clusters over publication time",
        )
    create_markdown_artifact(
        key="newsdedup-report",
        markdown=report_markdown(report, output, notes=notes),
        description="Counts at every stage, the largest clusters, the duplicates",
    )
    create_link_artifact(
        key="newsdedup-output",
        link=output.resolve().as_uri(),
        link_text=str(output),
        description="Parquet outputs of this run",
    )


def history_rows(output: Path, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Rows of the history artifacts of run ``run_id`` (text escaped): its new clusters,
    its updated clusters, and its new articles that copy an article of an earlier run.
    All of them: the artifacts count them all and show the first :data:`TABLE_ROWS`."""
    run = Path(output) / "current"
    clusters = _read(run / "clusters.parquet")
    documents = pq.read_table(
        run / "state" / "documents.parquet",
        columns=["article_id", "title", "dup_group_id", "is_canonical", "similarity", "method", "first_seen_run"],
    ).to_pylist()
    first_seen = {d["article_id"]: d["first_seen_run"] for d in documents}
    titles = {d["article_id"]: d["title"] for d in documents}

    def cluster_row(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "headline": escape_markdown(row["headline"], 200),
            "size": row["size"],
            "time span": _span(row["first_published"], row["last_published"]),
            "created": _when(row["created_at"]),
            "cluster": row["cluster_id"],
        }

    copies = [
        {
            "copy": escape_markdown(d["article_id"]),
            "title": escape_markdown(d["title"], 150),
            "copy of": escape_markdown(d["dup_group_id"]),
            "original title": escape_markdown(titles.get(d["dup_group_id"]), 150),
            "first seen": escape_markdown(first_seen.get(d["dup_group_id"])),
            "similarity": round(float(d["similarity"]), 3),
            "method": d["method"],
        }
        for d in documents
        if d["first_seen_run"] == run_id and not d["is_canonical"] and first_seen.get(d["dup_group_id"]) != run_id
    ]
    return {
        "new": [cluster_row(c) for c in clusters if c["status"] == "new"],
        "updated": [cluster_row(c) for c in clusters if c["status"] == "updated"],
        "duplicates": copies,
    }


def publish_history_artifacts(output: Path, run_id: str) -> None:
    """Create the history artifacts of a run with history (call inside a flow or task run)."""
    rows = history_rows(output, run_id)
    tables = (
        ("newsdedup-new-clusters", "new", "Clusters this run started", "cluster"),
        ("newsdedup-updated-clusters", "updated", "Earlier clusters this run added articles to", "cluster"),
        ("newsdedup-history-duplicates", "duplicates", "New articles that copy articles of earlier runs", "copy"),
    )
    for key, kind, what, column in tables:
        shown = rows[kind][:TABLE_ROWS]
        create_table_artifact(
            key=key,
            table=shown or [{column: "none"}],
            description=f"{what}: {len(rows[kind])} ({len(shown)} shown)",
        )
