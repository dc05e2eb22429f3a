"""Cluster summaries: one call for all clusters, the same in worker processes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import assume, given
from hypothesis import strategies as st

from dedup.config import SummaryConfig
from dedup.features import count_features, extract_entities, tfidf, top_entities
from dedup.summarize import (
    SummaryArticles,
    _display_names,
    _find_name,
    _lowered,
    _name_pattern,
    summarize_cluster,
    summarize_clusters,
)

TITLES = ["Warehouse fire in Dunmore", None, "Flood closes Harbury school", "Harbury school stays shut"]
TEXTS = [
    "A huge fire destroyed a furniture warehouse in Dunmore on Monday night. Fire chief Alan Price said "
    "forty firefighters fought the blaze for six hours and nobody was hurt.",
    "Firefighters in Dunmore spent the night battling a blaze at a furniture warehouse. Alan Price, the "
    "fire chief, said the building was lost but no one was injured in the fire.",
    "Heavy rain flooded the primary school in Harbury on Tuesday morning. Head teacher Mary Cole said the "
    "building would stay closed for at least a week while it dries out.",
    "The flooded primary school in Harbury will stay closed all week, head teacher Mary Cole told parents "
    "on Wednesday. Pupils will be taught in the village hall until then.",
]
CLUSTERS = [[0, 1], [2, 3]]


def _articles() -> SummaryArticles:
    counts = count_features(TITLES, TEXTS, [None] * 4, lead_sentences=2)
    return SummaryArticles(
        titles=TITLES,
        texts=TEXTS,
        sources=["a", "b", "a", "c"],
        datelines=[None, "Dunmore", "Harbury", None],
        published=[datetime(2024, 3, d, tzinfo=UTC) for d in (4, 5, 5, 6)],
        article_ids=["a0", "a1", "a2", "a3"],
        body=tfidf(counts.blocks[0]),
        vocabulary=counts.vocabularies[0],
    )


def _entity_names(members: list[int]) -> list[str]:
    return top_entities([extract_entities(TEXTS[k], TITLES[k]) for k in members], 10)


SETTINGS = SummaryConfig(min_sentences=1, max_sentences=3, top_terms=5, redundancy=0.6)


def _summaries(**kwargs: int) -> list:  # type: ignore[type-arg]
    return summarize_clusters(CLUSTERS, _articles(), [_entity_names(m) for m in CLUSTERS], SETTINGS, **kwargs)


def test_summaries_of_all_clusters_describe_each_cluster() -> None:
    first, second = _summaries()
    assert first.representative in CLUSTERS[0] and second.representative in CLUSTERS[1]
    assert first.places == ["Dunmore"] and second.places == ["Harbury"]
    assert "Alan Price" in first.entities and "Mary Cole" in second.entities
    assert all("Harbury" not in s for s in first.sentences)


def test_summaries_in_worker_processes_are_the_same() -> None:
    assert _summaries(workers=2, chunk_articles=1) == _summaries()


def test_one_cluster_summary_equals_its_place_in_the_bulk_call() -> None:
    alone = summarize_cluster(CLUSTERS[1], _articles(), _entity_names(CLUSTERS[1]), SETTINGS)
    assert _summaries()[1] == alone


def test_summary_sentences_come_from_the_members_closest_to_the_centroid() -> None:
    # The summary of the whole batch as one cluster: with one source article, every sentence
    # is the representative's; with all four, the other members contribute too.
    everyone = [0, 1, 2, 3]
    names = _entity_names(everyone)
    one = summarize_cluster(everyone, _articles(), names, SummaryConfig(min_sentences=4, max_sentences=4,
                                                                       source_articles=1))
    representative_text = TEXTS[one.representative]
    assert one.sentences and all(sentence in representative_text for sentence in one.sentences)
    four = summarize_cluster(everyone, _articles(), names, SummaryConfig(min_sentences=4, max_sentences=4))
    assert four.representative == one.representative
    assert any(sentence not in representative_text for sentence in four.sentences)


def test_display_names_are_written_as_the_articles_write_them() -> None:
    texts = ["Talks at nato-led NATO HQ.", "The Alan\n  Price report", "Sir Alan Prices spoke; later ALAN PRICE did."]
    assert _display_names(["Nato", "Alan Price"], texts, 10) == ["nato", "Alan\n  Price"]
    assert _display_names(["Alan Price"], texts[2:], 10) == ["ALAN PRICE"]
    assert _display_names(["Mary Cole"], texts, 10) == ["Mary Cole"]  # not written: as given


@given(st.lists(st.text(alphabet="abAB _.'-\n\t1éıſKk\u212a", max_size=10), max_size=4),
       st.lists(st.text(alphabet="abAB _'1é", min_size=1, max_size=5), max_size=4))
def test_display_names_are_the_first_match_of_the_first_text_that_writes_them(texts: list[str], names: list[str]) -> None:
    expected: list[str] = []
    keys: set[str] = set()
    for name in names:
        key = re.sub(r"['’]s$", "", name.lower())
        if key in keys:
            continue
        keys.add(key)
        matches = [m.group() for m in (_name_pattern(key).search(text) for text in texts) if m] if key.split() else []
        expected.append(matches[0] if matches else name)
    assert _display_names(names, texts, 10) == expected


@given(st.text(alphabet="abAB _.'-\n\t1éÉ\u00a0\u2003ıſsSKkİiI\u212aΣς", max_size=14),
       st.text(alphabet="ab _.'-1éskiσ", min_size=1, max_size=5))
def test_finding_a_name_equals_searching_its_pattern(text: str, name: str) -> None:
    key = name.lower()
    assume(key.split())
    match = _name_pattern(key).search(text)
    lowered = _lowered(text)
    assert _find_name(key, text, lowered) == (match.group() if match else None)
