"""``newsdedup inspect`` on a tiny output made by the library pipeline (no Prefect)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from dedup.errors import InputError
from dedup.pipeline import run_pipeline
from flows.cli import main
from flows.inspect import explain_cluster, find_cluster, member_similarities, show_cluster, show_clusters
from tests.corpus import write_quake_corpus

HOSTILE_TITLE = "[bold red]Central bank[/bold red] holds <b>rates</b> steady"


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Path:
    """Two earthquakes (three reports each), one rate decision with a hostile title, one copy."""
    corpus = tmp_path_factory.mktemp("corpus")
    write_quake_corpus(corpus, HOSTILE_TITLE)
    out = tmp_path_factory.mktemp("out")
    run_pipeline([corpus], out)
    return out


def cluster_of(output: Path, article_id: str) -> dict:
    clusters = pq.read_table(output / "clusters.parquet").to_pylist()
    return next(c for c in clusters if article_id in c["article_ids"])


def title_of(output: Path, article_id: str) -> str:
    return next(
        a["title"] for a in pq.read_table(output / "articles.parquet").to_pylist() if a["article_id"] == article_id
    )


def record() -> Console:
    return Console(record=True, width=220, color_system=None)


def test_cluster_table_lists_every_cluster(output):
    console = record()
    show_clusters(output, console=console)
    text = console.export_text()
    clusters = pq.read_table(output / "clusters.parquet").to_pylist()
    for cluster in clusters:
        assert cluster["cluster_id"] in text
        assert cluster["headline"] in text
    assert f"{len(clusters)} clusters" in text


def test_cluster_table_limit_says_how_many_are_hidden(output):
    console = record()
    show_clusters(output, limit=1, console=console)
    text = console.export_text()
    n_clusters = pq.read_metadata(output / "clusters.parquet").num_rows
    assert f"{n_clusters - 1} more" in text and "--limit" in text


def test_hostile_title_is_shown_as_written_not_as_markup(output):
    console = record()
    title = title_of(output, "doc6")
    assert "[bold red]Central bank[/bold red]" in title
    show_clusters(output, console=console)
    assert title in console.export_text()
    console = record()
    show_cluster(output, cluster_of(output, "doc6")["cluster_id"], console=console)
    assert title in console.export_text()


def test_one_cluster_explains_its_members(output):
    cluster = cluster_of(output, "doc0")
    console = record()
    show_cluster(output, cluster["cluster_id"], console=console)
    text = console.export_text()
    assert cluster["headline"] in text
    assert cluster["summary_sentences"][0] in " ".join(text.split())
    assert "shared terms:" in text and "valparaiso" in text.lower()
    for article_id in cluster["article_ids"]:
        assert article_id in text
    assert f"{cluster['representative_id']} *" in text
    assert "doc0 (exact, 1.00)" in text  # the copy and what it copies
    assert "duplicates: 1 (1 exact)" in text
    assert "Camila Rojas" in text  # a name every report of the Valparaiso quake mentions


def test_members_similarity_to_the_representative(output):
    view = explain_cluster(output, cluster_of(output, "doc1")["cluster_id"])
    representative, *others = view.members
    assert representative.is_representative and representative.similarity == pytest.approx(1.0)
    assert representative.article_id == view.cluster["representative_id"]
    assert {m.article_id for m in view.members} == set(view.cluster["article_ids"])
    assert others and all(0.0 < m.similarity <= 1.0 for m in others)
    assert [m.similarity for m in others] == sorted((m.similarity for m in others), reverse=True)
    for member in others:
        assert any(name.endswith("Camila Rojas") for name in member.shared_names)
        assert "Valparaiso" in member.shared_names
        assert "Rojas" not in member.shared_names  # covered by the full name
        assert member.shared_terms


def test_a_copy_is_as_similar_as_its_original(output):
    view = explain_cluster(output, cluster_of(output, "doc0")["cluster_id"])
    by_id = {m.article_id: m for m in view.members}
    assert by_id["doc0-copy"].similarity == pytest.approx(by_id["doc0"].similarity)
    assert by_id["doc0-copy"].duplicate_of == "doc0" and by_id["doc0"].duplicate_of is None


def test_similarities_of_unrelated_texts():
    sims, terms = member_similarities(["port quake Valparaiso", "Valparaiso quake", "interest rates"], 0)
    assert sims[0] == pytest.approx(1.0) and sims[1] > 0.3 and sims[2] == 0.0
    assert set(terms[1]) == {"quake", "valparaiso"} and terms[2] == []


def test_a_unique_prefix_selects_a_cluster(output):
    cluster = cluster_of(output, "doc0")
    clusters = pq.read_table(output / "clusters.parquet").to_pylist()
    assert find_cluster(clusters, cluster["cluster_id"][:8]) == cluster
    assert find_cluster(clusters, cluster["cluster_id"].removeprefix("ev-")) == cluster
    with pytest.raises(InputError, match="ambiguous"):
        find_cluster(clusters, "ev-")
    with pytest.raises(InputError, match="no cluster 'ev-nope'"):
        find_cluster(clusters, "ev-nope")


def test_command_line(output, capsys):
    assert main(["inspect", str(output), "--cluster", cluster_of(output, "doc1")["cluster_id"]]) == 0
    assert "Valparaiso" in capsys.readouterr().out
    assert main(["inspect", str(output), "--cluster", "ev-nope"]) == 2
    assert capsys.readouterr().err.startswith("newsdedup: error: no cluster")
