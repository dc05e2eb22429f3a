"""Terminal views of an output directory (``newsdedup inspect``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from dedup.errors import InputError


def _read(output: Path, name: str) -> list[dict]:
    path = output / name
    if not path.exists():
        raise InputError(f"{path} not found: is {output} the --output of a newsdedup run?")
    return pq.read_table(path).to_pylist()


def show_clusters(output: Path, limit: int = 30, console: Console | None = None) -> None:
    """A table of the largest clusters."""
    console = console or Console()
    clusters = _read(output, "clusters.parquet")
    table = Table(title=f"{len(clusters)} clusters in {output} (largest {min(limit, len(clusters))})")
    for column in ("cluster", "size", "headline", "sources", "first published"):
        table.add_column(column, overflow="fold")
    for row in clusters[:limit]:
        first = row["first_published"].strftime("%Y-%m-%d") if row["first_published"] else ""
        table.add_row(row["cluster_id"], str(row["size"]), row["headline"], ", ".join(row["sources"]), first)
    console.print(table)


def show_cluster(output: Path, cluster: str, console: Console | None = None) -> None:
    """One cluster: summary, members, duplicates and the terms and names they share."""
    console = console or Console()
    rows = [r for r in _read(output, "clusters.parquet") if r["cluster_id"] == cluster]
    if not rows:
        raise InputError(f"no cluster {cluster!r} in {output}/clusters.parquet")
    row = rows[0]
    articles = {a["article_id"]: a for a in _read(output, "articles.parquet") if a["cluster_id"] == cluster}
    dups = {d["article_id"]: d for d in _read(output, "duplicates.parquet") if d["article_id"] in articles}
    console.print(f"[bold]{row['headline']}[/bold]  ({row['cluster_id']}, {row['size']} articles)")
    console.print(row["summary"], soft_wrap=True)
    console.print(f"shared terms: {', '.join(row['top_terms'])}")
    console.print(f"shared names: {', '.join(row['entities'])}")
    console.print(f"cohesion (mean similarity to the centroid): {row['cohesion']:.3f}")
    table = Table(title="members")
    for column in ("article", "title", "source", "published", "duplicate of"):
        table.add_column(column, overflow="fold")
    for article_id in row["article_ids"]:
        a = articles.get(article_id, {})
        dup = dups.get(article_id)
        published = a.get("published_at")
        table.add_row(
            article_id + (" *" if article_id == row["representative_id"] else ""),
            a.get("title") or "",
            a.get("source") or "",
            published.strftime("%Y-%m-%d") if published else "",
            f"{dup['duplicate_of']} ({dup['similarity']:.2f})" if dup else "",
        )
    console.print(table)
    console.print("* representative article")
