"""Evaluation harness: tiny labelled corpora with planted events, copies and rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dedup.errors import InputError
from dedup.evaluation.baseline import BASELINE_THRESHOLD, baseline_cluster, choose_baseline_threshold
from dedup.evaluation.ecbplus import LabelledArticle
from dedup.evaluation.harness import (
    evaluate_benchmark,
    evaluate_clustering,
    evaluate_near_duplicates,
    evaluate_real_copies,
    format_report,
)

# Three unrelated events, three reports each: different outlets, different words, same facts.
QUAKE = [
    (
        "Strong earthquake shakes southern Chile\n"
        "A magnitude 7.1 earthquake struck southern Chile on Tuesday morning, shaking buildings in the "
        "port city of Valdivia and cutting power to thousands of homes. The national emergency office said "
        "two people were injured by falling debris and that a tsunami warning for the coast was lifted after "
        "an hour. Firefighters inspected bridges and schools across the Los Rios region while residents "
        "gathered in parks and squares, waiting for the aftershocks to pass."
    ),
    (
        "Chile quake cuts power in Valdivia, tsunami alert lifted\n"
        "Residents of Valdivia rushed into the streets when a powerful earthquake of magnitude 7.1 hit the "
        "south of Chile early on Tuesday. The Chilean emergency office reported two injured people and "
        "widespread power cuts in the Los Rios region. Navy officials briefly issued a tsunami alert for the "
        "coast of Chile and lifted it an hour later, when sea levels stayed normal. Engineers began to check "
        "bridges and schools in Valdivia for cracks."
    ),
    (
        "Aftershocks rattle Valdivia after magnitude 7.1 earthquake\n"
        "Aftershocks kept rattling Valdivia on Tuesday after the magnitude 7.1 earthquake that struck southern "
        "Chile in the morning. The emergency office said power was restored to most homes in the Los Rios "
        "region by the evening and that the two people injured by debris were in stable condition. The tsunami "
        "warning issued for the Chilean coast was lifted after an hour, and schools in Valdivia will stay "
        "closed until engineers have inspected them."
    ),
]
RATES = [
    (
        "Riksbank raises interest rate to fight inflation\n"
        "Sweden's central bank, the Riksbank, raised its main interest rate by half a percentage point to "
        "3.5 percent on Thursday, saying inflation in Sweden was still far above its target of two percent. "
        "Governor Erik Thedeen told reporters in Stockholm that the bank was ready to raise borrowing costs "
        "further if the krona kept weakening. Economists had expected a smaller increase, and the krona "
        "gained against the euro after the announcement."
    ),
    (
        "Swedish krona jumps after surprise half-point Riksbank hike\n"
        "The Swedish krona climbed against the euro on Thursday after the Riksbank lifted its policy rate by "
        "50 basis points to 3.5 percent, more than most economists had forecast. Governor Erik Thedeen said in "
        "Stockholm that inflation was too high and that the central bank of Sweden could tighten again. "
        "Mortgage holders across Sweden face higher monthly payments as banks pass on the increase in "
        "borrowing costs."
    ),
    (
        "Riksbank governor defends rate rise as mortgage costs climb\n"
        "Riksbank governor Erik Thedeen defended the central bank's decision to raise the interest rate to "
        "3.5 percent, telling a Stockholm news conference on Thursday that high inflation hurt Swedish "
        "households more than borrowing costs. The half-point increase surprised economists and lifted the "
        "krona. Swedish banks said they would raise mortgage rates from next week, and property agents in "
        "Stockholm expect house prices to fall further."
    ),
]
TENNIS = [
    (
        "Alcaraz beats Djokovic to win Wimbledon title\n"
        "Carlos Alcaraz won his first Wimbledon title on Sunday, beating Novak Djokovic in five sets on Centre "
        "Court after nearly five hours of play. The 20-year-old Spaniard came back from losing the first set "
        "and broke the Serbian's serve in the fifth set to end his run of titles at the All England Club. "
        "Djokovic, chasing a record-equalling eighth Wimbledon crown, called his opponent the best player he "
        "had faced."
    ),
    (
        "Spanish teenager ends Djokovic reign at the All England Club\n"
        "Novak Djokovic's decade of dominance at Wimbledon ended on Sunday when Carlos Alcaraz beat him in a "
        "five-set final that lasted almost five hours. Alcaraz, the world number one from Spain, lifted the "
        "trophy on Centre Court in front of the Spanish king. Djokovic smashed his racket against the net post "
        "in the fifth set and later praised the Spaniard as a complete player on grass."
    ),
    (
        "Alcaraz savours Wimbledon triumph over Djokovic\n"
        "Carlos Alcaraz said winning Wimbledon was a dream come true after his five-set victory over Novak "
        "Djokovic in Sunday's final on Centre Court. The Spaniard, 20, became the third youngest man to win the "
        "title at the All England Club. Djokovic, who had not lost on Centre Court since 2013, admitted that "
        "Alcaraz served better in the decisive fifth set and said the Spaniard deserved the Wimbledon crown."
    ),
]
# A wire copy of the first quake report: the republishing site's byline and copyright lines.
QUAKE_COPY = (
    "By Jane Miller, Daily Courier\n" + QUAKE[0] + "\nCopyright 2023 Daily Courier. All rights reserved."
)


def _corpus() -> list[LabelledArticle]:
    articles = []
    for event, texts in (("quake", QUAKE), ("rates", RATES), ("tennis", TENNIS)):
        articles += [LabelledArticle(f"{event}-{k}", text, event) for k, text in enumerate(texts, start=1)]
    return articles


CORPUS = _corpus()
WITH_COPY = [*CORPUS, LabelledArticle("quake-copy", QUAKE_COPY, "quake")]
# An article without text: the pipeline rejects it, and the harness must still score it.
EMPTY = LabelledArticle("rates-empty", "   ", "rates")


@pytest.fixture(scope="module")
def clustering() -> dict[str, Any]:
    return evaluate_clustering([*WITH_COPY, EMPTY])


def test_clustering_result_has_every_score(clustering: dict[str, Any]) -> None:
    score_keys = {"n_items", "n_pred_clusters", "n_gold_clusters", "bcubed_precision", "bcubed_recall",
                  "bcubed_f1", "pairwise_precision", "pairwise_recall", "pairwise_f1", "adjusted_rand"}
    assert clustering["kind"] == "clustering"
    assert score_keys <= set(clustering["method"])
    assert score_keys | {"threshold"} <= set(clustering["baseline"])
    assert clustering["baseline"]["threshold"] == BASELINE_THRESHOLD
    assert {"worst_merges", "worst_splits", "duplicate_groups", "timing", "rejected", "config"} <= set(clustering)
    assert clustering["timing"]["pipeline_seconds"] > 0
    json.dumps(clustering)  # plain data only


def test_planted_events_are_recovered(clustering: dict[str, Any]) -> None:
    # The events share no vocabulary, so nothing may be merged across them; within an event the
    # reports are worded differently, so one of nine may be split off without failing the test.
    accepted = clustering["method_accepted_only"]
    assert accepted["bcubed_precision"] == pytest.approx(1.0)
    assert accepted["bcubed_f1"] >= 0.9
    assert clustering["worst_merges"] == []
    method = clustering["method"]
    assert method["bcubed_precision"] == pytest.approx(1.0)
    assert method["bcubed_recall"] < accepted["bcubed_recall"]  # the rejected article costs recall
    assert 4 <= method["n_pred_clusters"] <= 5
    assert "rates" in [s["event"] for s in clustering["worst_splits"]]


def test_rejected_articles_are_counted_and_scored(clustering: dict[str, Any]) -> None:
    rejected = clustering["rejected"]
    assert rejected["count"] == 1
    assert rejected["ids"] == ["rates-empty"]
    assert rejected["scored_as"] == "singletons"
    assert clustering["method"]["n_items"] == len(WITH_COPY) + 1
    (split,) = [s for s in clustering["worst_splits"] if s["event"] == "rates"]
    assert {"cluster": "rejected:rates-empty", "headline": "", "count": 1} in split["clusters"]


def test_planted_copy_is_one_duplicate_group(clustering: dict[str, Any]) -> None:
    groups = clustering["duplicate_groups"]
    assert groups["count"] == 1
    assert groups["groups"][0]["members"] == ["quake-1", "quake-copy"]
    assert groups["across_events"] == 0


def test_format_report_shows_method_and_baseline(clustering: dict[str, Any]) -> None:
    text = format_report(clustering)
    assert "B-cubed F1" in text and "baseline (t=" in text
    assert "Rejected by the pipeline: 1" in text
    with pytest.raises(ValueError, match="not an evaluation result"):
        format_report({"method": {}})


def test_baseline_recovers_planted_events() -> None:
    texts = [a.text for a in CORPUS]
    gold = [a.event for a in CORPUS]
    assert baseline_cluster(texts, BASELINE_THRESHOLD).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    threshold = choose_baseline_threshold(texts, gold, grid=[0.01, 0.1, 0.2, 0.9])
    assert threshold == 0.1  # 0.01 merges everything, 0.9 nothing; 0.1 and 0.2 tie, smaller wins
    assert baseline_cluster(["one text"], 0.5).tolist() == [0]
    with pytest.raises(ValueError, match="threshold"):
        baseline_cluster(texts, 1.5)
    with pytest.raises(ValueError, match="empty"):
        baseline_cluster([], 0.5)


def test_near_duplicates_finds_planted_copies() -> None:
    result = evaluate_near_duplicates(CORPUS[:3] + CORPUS[6:], copies=1, seed=0)
    assert result["n_originals"] == 6 and result["n_copies"] == 6
    assert result["copy_recall"] >= 5 / 6
    assert result["pairwise"]["pairwise_precision"] == pytest.approx(1.0)
    assert set(result["per_transform"]) == {"header", "footer", "edits", "truncate", "case", "whitespace"}
    assert sum(c["copies"] for c in result["per_transform"].values()) >= 6
    assert "Copies found in their original's group" in format_report(result)


def test_real_copies_all_found_nothing_else() -> None:
    result = evaluate_real_copies(WITH_COPY)
    assert result["copy_pairs"] == 1
    assert result["found"] == 1
    assert result["unrelated_pairs"] == 0
    assert "1/1 pairs" in format_report(result)


def test_evaluate_benchmark_reads_a_labelled_file(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    rows = [{"doc": a.id, "body": a.text, "gold": a.event} for a in CORPUS]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    result = evaluate_benchmark(str(path), id_column="doc", text_column="body", label_column="gold")
    assert result["benchmark"] == str(path)
    assert result["method"]["n_items"] == len(CORPUS)
    with pytest.raises(InputError, match="neither a benchmark"):
        evaluate_benchmark(str(tmp_path / "missing.jsonl"))


def test_bad_arguments_fail_before_running() -> None:
    with pytest.raises(InputError, match="unique"):
        evaluate_clustering([CORPUS[0], CORPUS[0]])
    with pytest.raises(ValueError, match="baseline_threshold"):
        evaluate_clustering(CORPUS, baseline_threshold=1.5)


def test_evaluate_benchmark_adds_the_near_duplicate_checks(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps({"id": a.id, "text": a.text, "event": a.event}) + "\n" for a in WITH_COPY),
                    encoding="utf-8")
    result = evaluate_benchmark(str(path), duplicates=True)
    near, real = result["near_duplicates"], result["real_copies"]
    assert (near["kind"], near["copies"], near["seed"], near["n_originals"]) == ("near_duplicates", 2, 0, 10)
    assert near["real_copy_pairs_among_originals"] == 1
    assert near["pairwise_copies_joined"]["pairwise_precision"] == pytest.approx(1.0)
    assert (real["kind"], real["found"], real["copy_pairs"], real["unrelated_pairs"]) == ("real_copies", 1, 1, 0)
    text = format_report(result)
    assert text.index("Event clustering") < text.index("Near-duplicates:") < text.index("Real copies")
    assert "near_duplicates" not in evaluate_benchmark(str(path))
    with pytest.raises(ValueError, match="variant_seed"):
        evaluate_benchmark(str(path), duplicates=True, variant_seed=-1)
