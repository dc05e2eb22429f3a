"""Terminal views of an output directory (``newsdedup inspect``).

``newsdedup inspect DIR`` lists the clusters; ``newsdedup inspect DIR --cluster ID`` shows one
cluster's summary, members and duplicates, and why the members were grouped: the terms and
names the cluster shares, and for each member its TF-IDF cosine similarity to the
representative article, the terms that contribute most to it and the names both mention.

Article text is printed as plain :class:`rich.text.Text`, never as console markup, so a
headline such as ``"[red]Breaking[/red]"`` is shown as written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from dedup.errors import InputError
from dedup.features import extract_entities

__all__ = [
    "ClusterView",
    "Member",
    "explain_cluster",
    "find_cluster",
    "member_similarities",
    "shared_names",
    "show_cluster",
    "show_clusters",
]


# Reporting verbs are in nearly every news article; they explain nothing.
_STOP = sorted(ENGLISH_STOP_WORDS | {"said", "says", "say", "told", "according"})


@dataclass(frozen=True)
class Member:
    """One article of a cluster and how it relates to the cluster's representative."""

    article_id: str
    title: str | None
    source: str | None
    published_at: datetime | None
    is_representative: bool
    similarity: float
    shared_terms: list[str]
    shared_names: list[str]
    duplicate_of: str | None
    duplicate_similarity: float | None
    duplicate_method: str | None


@dataclass(frozen=True)
class ClusterView:
    """A row of ``clusters.parquet`` with its members, representative first, then by similarity."""

    cluster: dict[str, Any]
    members: list[Member]


def _path(output: Path, name: str) -> Path:
    path = output / name
    if not path.exists():
        raise InputError(f"{path} not found: is {output} the --output of a newsdedup run?")
    return path


def _read(output: Path, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    return pq.read_table(_path(output, name), **kwargs).to_pylist()


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else ""


def _span(first: datetime | None, last: datetime | None) -> str:
    if first is None:
        return ""
    if last is None or _day(first) == _day(last):
        return _day(first)
    return f"{_day(first)} – {_day(last)}"


def show_clusters(output: Path, limit: int = 30, console: Console | None = None) -> None:
    """A table of the ``limit`` largest clusters."""
    console = console or Console()
    clusters = _read(output, "clusters.parquet")
    shown = clusters[:limit]
    noun = "cluster" if len(clusters) == 1 else "clusters"
    table = Table(title=f"{len(clusters)} {noun} in {output} (largest {len(shown)})", title_justify="left")
    table.add_column("cluster", no_wrap=True)
    table.add_column("size", justify="right")
    table.add_column("headline", overflow="fold", ratio=3)
    table.add_column("sources", overflow="fold", ratio=1)
    table.add_column("published", no_wrap=True)
    for row in shown:
        table.add_row(
            row["cluster_id"],
            str(row["size"]),
            Text(row["headline"]),
            Text(", ".join(row["sources"])),
            _span(row["first_published"], row["last_published"]),
        )
    console.print(table)
    if len(clusters) > len(shown):
        console.print(f"… {len(clusters) - len(shown)} more in {output / 'clusters.parquet'} (--limit to show more)")
    console.print(Text(f"One cluster in detail: newsdedup inspect {output} --cluster ID", style="dim"))


def find_cluster(clusters: Sequence[dict[str, Any]], wanted: str) -> dict[str, Any]:
    """The cluster whose id is ``wanted``, or the only one that starts with it (``ev-`` optional).

    Raises:
        InputError: no cluster, or several, match.
    """
    wanted = wanted.strip()
    for row in clusters:
        if row["cluster_id"] == wanted:
            return row
    prefixes = (wanted, f"ev-{wanted}")
    matches = [row for row in clusters if row["cluster_id"].startswith(prefixes)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(row["cluster_id"] for row in matches[:5])
        raise InputError(f"cluster {wanted!r} is ambiguous: {ids}{', …' if len(matches) > 5 else ''}")
    raise InputError(f"no cluster {wanted!r}: `newsdedup inspect DIR` lists the cluster ids")


def member_similarities(texts: Sequence[str], representative: int, top_terms: int = 4) -> tuple[np.ndarray, list]:
    """Cosine similarity of each text to ``texts[representative]`` on TF-IDF fitted to ``texts``,
    and for each text the terms that contribute most to that similarity.

    Fitted on the cluster alone: a term every member uses weighs least, so the cosine
    reflects what a member shares with the representative beyond the cluster's common words.

    >>> sims, terms = member_similarities(["quake hits Chile port", "Chile quake damages port", "bank rates"], 0)
    >>> [round(float(s), 2) for s in sims], terms[2]
    ([1.0, 0.63, 0.0], [])
    """
    if not texts:
        return np.zeros(0), []
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words=_STOP, token_pattern=r"(?u)\b[^\W\d_][\w'-]+\b")
    try:
        weights = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # no usable word in any text
        return np.zeros(len(texts)), [[] for _ in texts]
    vocabulary = vectorizer.get_feature_names_out()
    reference = weights[representative]
    products = weights.multiply(reference).tocsr()
    similarities = np.asarray(products.sum(axis=1)).ravel()
    shared: list[list[str]] = []
    for i in range(len(texts)):
        row = products.getrow(i)
        order = np.argsort(-row.data, kind="stable")[:top_terms]
        shared.append([str(vocabulary[row.indices[k]]) for k in order])
    return np.clip(similarities, 0.0, 1.0), shared


def _names(article: dict[str, Any]) -> Counter[str]:
    features = extract_entities(article["text"], article.get("title"), article.get("dateline"))
    return Counter(f for f in features if not f.startswith(("#", "@")))


def shared_names(a: Counter[str], b: Counter[str], limit: int = 5) -> list[str]:
    """Names two articles both mention, longest and most mentioned first, readable.

    A single word is left out when a shown longer name ends with it ("Ryabkov" after
    "Sergei Ryabkov").

    >>> shared_names(Counter({"sergei_ryabkov": 2, "ryabkov": 5, "geneva": 3}), Counter({"ryabkov": 1, "geneva": 1,
    ...     "sergei_ryabkov": 1}))
    ['Sergei Ryabkov', 'Geneva']
    """
    common = sorted(set(a) & set(b), key=lambda n: (-n.count("_"), -min(a[n], b[n]), n))
    chosen: list[str] = []
    for name in common:
        if "_" not in name and any(c.endswith("_" + name) for c in chosen):
            continue
        chosen.append(name)
        if len(chosen) == limit:
            break
    return [name.replace("_", " ").title() for name in chosen]


def explain_cluster(output: Path, cluster: str) -> ClusterView:
    """One cluster of ``output`` (id or unique prefix) with its members explained."""
    row = find_cluster(_read(output, "clusters.parquet"), cluster)
    articles = {
        a["article_id"]: a for a in _read(output, "articles.parquet", filters=[("cluster_id", "=", row["cluster_id"])])
    }
    copies = {
        d["article_id"]: d
        for d in _read(output, "duplicates.parquet", filters=[("article_id", "in", list(row["article_ids"]))])
    }
    ids = [i for i in row["article_ids"] if i in articles]
    representative = ids.index(row["representative_id"]) if row["representative_id"] in ids else 0
    texts = [f"{articles[i].get('title') or ''}\n{articles[i]['text']}" for i in ids]
    similarities, terms = member_similarities(texts, representative)
    names = [_names(articles[i]) for i in ids]
    members = []
    for k, article_id in enumerate(ids):
        article, copy = articles[article_id], copies.get(article_id)
        is_rep = k == representative
        members.append(
            Member(
                article_id=article_id,
                title=article.get("title"),
                source=article.get("source"),
                published_at=article.get("published_at"),
                is_representative=is_rep,
                similarity=round(float(similarities[k]), 3),
                shared_terms=[] if is_rep else terms[k],
                shared_names=[] if is_rep else shared_names(names[k], names[representative]),
                duplicate_of=copy["duplicate_of"] if copy else None,
                duplicate_similarity=round(float(copy["similarity"]), 3) if copy else None,
                duplicate_method=copy["method"] if copy else None,
            )
        )
    members.sort(key=lambda m: (not m.is_representative, -m.similarity, m.article_id))
    return ClusterView(cluster=row, members=members)


def _labelled(label: str, values: Sequence[str]) -> Text:
    text = Text(f"{label}: ", style="bold")
    text.append(", ".join(values) if values else "none")
    return text


def show_cluster(output: Path, cluster: str, console: Console | None = None) -> None:
    """One cluster: summary, why its members were grouped, members and duplicates."""
    console = console or Console()
    view = explain_cluster(output, cluster)
    row = view.cluster
    header = Text(row["headline"], style="bold")
    header.append(f"\n{row['cluster_id']}: {row['size']} articles ({row['n_canonical']} not copies)", style="")
    span = _span(row["first_published"], row["last_published"])
    header.append(f", {span}" if span else ", no publication dates", style="")
    console.print(header)
    console.print(_labelled("sources", row["sources"]))
    console.print()
    console.print(Text("Summary", style="bold underline"))
    console.print(Text(row["summary"] or "(no summary)"))
    console.print()
    console.print(Text("Why these articles are one event", style="bold underline"))
    console.print(_labelled("shared terms", row["top_terms"]))
    console.print(_labelled("shared names", row["entities"]))
    console.print(_labelled("places", row["places"]))
    console.print(f"cohesion (mean cosine of the members to the cluster centroid): {row['cohesion']:.3f}")

    table = Table(
        title="Members (similarity: TF-IDF cosine to the representative *, fitted on this cluster)",
        title_justify="left",
    )
    table.add_column("article", overflow="fold")
    table.add_column("title", overflow="fold", ratio=3)
    table.add_column("source", overflow="fold")
    table.add_column("published", no_wrap=True)
    table.add_column("similarity", justify="right")
    table.add_column("terms shared with *", overflow="fold", ratio=2)
    table.add_column("names shared with *", overflow="fold", ratio=2)
    table.add_column("copy of", overflow="fold")
    for m in view.members:
        copy = f"{m.duplicate_of} ({m.duplicate_method}, {m.duplicate_similarity:.2f})" if m.duplicate_of else ""
        table.add_row(
            Text(m.article_id + (" *" if m.is_representative else "")),
            Text(m.title or ""),
            Text(m.source or ""),
            _day(m.published_at),
            f"{m.similarity:.2f}",
            Text(", ".join(m.shared_terms)),
            Text(", ".join(m.shared_names)),
            Text(copy),
        )
    console.print()
    console.print(table)
    copies = [m for m in view.members if m.duplicate_of]
    if copies:
        methods = Counter(m.duplicate_method for m in copies)
        detail = ", ".join(f"{n} {method}" for method, n in sorted(methods.items()))
        console.print(f"duplicates: {len(copies)} ({detail}); each copy joins its original's cluster")
    else:
        console.print("duplicates: none in this cluster")
    console.print("* representative article (the member closest to the cluster centroid)")
