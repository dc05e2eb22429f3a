"""Prefect artifacts of a run: the cluster table, a stage report and a link to the output.

All article text shown in the UI goes through :func:`escape_markdown`: headlines and
summaries come from the web and must not inject HTML or markdown into the Prefect UI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from dedup.pipeline import RunReport

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|>~-])")
TABLE_ROWS = 200


def escape_markdown(text: str | None, limit: int = 600) -> str:
    """Plain text made inert in markdown and HTML: entities for ``<>&``, backslashes before
    markdown punctuation, no line breaks, at most ``limit`` characters."""
    if not text:
        return ""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def cluster_rows(clusters_path: Path, limit: int = TABLE_ROWS) -> list[dict[str, Any]]:
    """The largest clusters as rows for a table artifact (escaped text)."""
    table = pq.read_table(clusters_path).slice(0, limit).to_pylist()
    return [
        {
            "cluster": row["cluster_id"],
            "size": row["size"],
            "headline": escape_markdown(row["headline"], 200),
            "sources": escape_markdown(", ".join(row["sources"]), 200),
            "first published": _when(row["first_published"]),
            "last published": _when(row["last_published"]),
            "summary": escape_markdown(row["summary"], 800),
        }
        for row in table
    ]


def report_markdown(report: RunReport, output: Path, n_clusters: int) -> str:
    """Markdown with the counts of every stage."""
    lines = [
        f"# newsdedup run\n\nOutput: `{escape_markdown(str(output))}` ({n_clusters} clusters)\n",
        "| stage | seconds | counts |",
        "|---|---:|---|",
    ]
    for stage in report.stages:
        counts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in stage.counts.items())
        lines.append(f"| {stage.stage} | {stage.seconds:.2f} | {counts} |")
    return "\n".join(lines) + "\n"


def publish_artifacts(report: RunReport, output: Path) -> None:
    """Create the run's artifacts in Prefect."""
    clusters_path = output / "clusters.parquet"
    n_clusters = pq.ParquetFile(clusters_path).metadata.num_rows
    rows = cluster_rows(clusters_path)
    create_table_artifact(
        key="newsdedup-clusters",
        table=rows,
        description=f"Event clusters, largest first ({len(rows)} of {n_clusters} shown; all in clusters.parquet)",
    )
    create_markdown_artifact(
        key="newsdedup-report",
        markdown=report_markdown(report, output, n_clusters),
        description="Counts at every stage",
    )
    create_link_artifact(
        key="newsdedup-output",
        link=output.resolve().as_uri(),
        link_text=str(output),
        description="Parquet outputs of this run",
    )
