"""Clustering metrics: hand-computed values on tiny partitions, and properties."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup.evaluation.metrics import (
    PRF,
    Merge,
    Split,
    adjusted_rand,
    bcubed,
    pairwise,
    score_clustering,
    worst_merges,
    worst_splits,
)

# Six articles, three gold events; the prediction merges all of "a" with one "b" and pairs the
# other "b" with the lone "c".
#   cells: (1,a)=3 (1,b)=1 (2,b)=1 (2,c)=1; cluster sizes 1:4 2:2; event sizes a:3 b:2 c:1
PRED = [1, 1, 1, 1, 2, 2]
GOLD = ["a", "a", "a", "b", "b", "c"]


def approx(value: Fraction) -> object:
    return pytest.approx(float(value), abs=1e-12)


def f1(p: Fraction, r: Fraction) -> Fraction:
    return 2 * p * r / (p + r)


def test_bcubed_hand_computed() -> None:
    # Per-item precision: 3/4 for the three a's, 1/4 for the b in cluster 1, 1/2 for b and c
    # in cluster 2. Per-item recall: 1 for the a's, 1/2 for each b, 1 for c.
    precision = (3 * Fraction(3, 4) + Fraction(1, 4) + Fraction(1, 2) + Fraction(1, 2)) / 6
    recall = (3 * Fraction(1) + Fraction(1, 2) + Fraction(1, 2) + Fraction(1)) / 6
    assert precision == Fraction(7, 12)
    assert recall == Fraction(5, 6)
    result = bcubed(PRED, GOLD)
    assert result.precision == approx(precision)
    assert result.recall == approx(recall)
    assert result.f1 == approx(Fraction(35, 51))


def test_bcubed_amigo_cluster_completeness_example() -> None:
    # Amigó et al. (2009), the "cluster completeness" constraint: splitting a gold class over
    # two clusters must cost recall but not precision.
    gold = ["x"] * 4 + ["y"] * 2
    split = [1, 1, 2, 2, 3, 3]
    result = bcubed(split, gold)
    assert result.precision == 1.0
    assert result.recall == approx(Fraction(4 * Fraction(1, 2) + 2, 6))  # 2/3


def test_pairwise_hand_computed() -> None:
    # Same-cluster pairs: C(4,2) + C(2,2) = 7; same-event pairs: C(3,2) + C(2,2) = 4; both: C(3,2) = 3.
    result = pairwise(PRED, GOLD)
    assert result.precision == approx(Fraction(3, 7))
    assert result.recall == approx(Fraction(3, 4))
    assert result.f1 == approx(f1(Fraction(3, 7), Fraction(3, 4)))
    assert result.f1 == approx(Fraction(6, 11))


def test_adjusted_rand_hand_computed() -> None:
    # ARI = (index - expected) / (max - expected) with index 3, expected 7 * 4 / C(6,2) = 28/15,
    # max (7 + 4) / 2.
    expected = Fraction(28, 15)
    value = (3 - expected) / (Fraction(11, 2) - expected)
    assert value == Fraction(34, 109)
    assert adjusted_rand(PRED, GOLD) == approx(value)


def test_pairwise_all_singletons_conventions() -> None:
    assert pairwise(["p", "q", "r"], ["a", "b", "c"]) == PRF(1.0, 1.0, 1.0)
    nothing_claimed = pairwise(["p", "q"], ["a", "a"])
    assert (nothing_claimed.precision, nothing_claimed.recall, nothing_claimed.f1) == (1.0, 0.0, 0.0)


def test_score_clustering_collects_everything() -> None:
    scores = score_clustering(PRED, GOLD)
    assert scores["n_items"] == 6
    assert scores["n_pred_clusters"] == 2
    assert scores["n_gold_clusters"] == 3
    assert scores["bcubed_precision"] == bcubed(PRED, GOLD).precision
    assert scores["pairwise_f1"] == pairwise(PRED, GOLD).f1
    assert scores["adjusted_rand"] == adjusted_rand(PRED, GOLD)
    assert set(scores) == {
        "n_items",
        "n_pred_clusters",
        "n_gold_clusters",
        "bcubed_precision",
        "bcubed_recall",
        "bcubed_f1",
        "pairwise_precision",
        "pairwise_recall",
        "pairwise_f1",
        "adjusted_rand",
    }


def test_worst_merges_lists_mixed_clusters_by_wrong_pairs() -> None:
    merges = worst_merges(PRED, GOLD, k=5)
    assert merges == [
        Merge(cluster=1, size=4, wrong_pairs=3, events=(("a", 3), ("b", 1))),
        Merge(cluster=2, size=2, wrong_pairs=1, events=(("b", 1), ("c", 1))),
    ]
    assert worst_merges(PRED, GOLD, k=1) == merges[:1]


def test_worst_splits_lists_spread_events_by_lost_pairs() -> None:
    assert worst_splits(PRED, GOLD, k=5) == [
        Split(event="b", size=2, lost_pairs=1, clusters=((1, 1), (2, 1)))
    ]
    # "a" is spread 2/1/1 over p, q, r: C(4,2) - C(2,2) = 5 lost pairs; "b" 2/1: C(3,2) - C(2,2) = 2.
    pred = ["p", "p", "q", "r", "r", "r", "s"]
    gold = ["a", "a", "a", "a", "b", "b", "b"]
    assert [(s.event, s.lost_pairs) for s in worst_splits(pred, gold)] == [("a", 5), ("b", 2)]


def test_perfect_clustering_has_no_errors() -> None:
    assert worst_merges(GOLD, GOLD) == []
    assert worst_splits(GOLD, GOLD) == []


@pytest.mark.parametrize("function", [bcubed, pairwise, adjusted_rand, score_clustering])
def test_rejects_bad_input(function) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="same items: got 2 predicted and 3 gold"):
        function([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        function([], [])
    with pytest.raises(ValueError, match=r"pred\[1\] is a list"):
        function([1, [2]], [1, 2])


def test_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match="k must be a non-negative int"):
        worst_merges(PRED, GOLD, k=-1)


def test_mixed_label_types_are_fine() -> None:
    pred = [1, "1", None, (2, 3)]
    gold = ["a", "b", "c", "d"]
    assert score_clustering(pred, gold)["adjusted_rand"] == 1.0


# ------------------------------------------------------------------------------ properties

labels = st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=40)
label_pairs = labels.flatmap(
    lambda gold: st.tuples(st.just(gold), st.lists(st.integers(0, 5), min_size=len(gold), max_size=len(gold)))
)


@given(labels)
def test_perfect_clustering_scores_one(gold: list[int]) -> None:
    renamed = [f"cluster-{g}" for g in gold]
    scores = score_clustering(renamed, gold)
    for key in (
        "bcubed_precision",
        "bcubed_recall",
        "bcubed_f1",
        "pairwise_precision",
        "pairwise_recall",
        "pairwise_f1",
        "adjusted_rand",
    ):
        assert scores[key] == pytest.approx(1.0)


@given(label_pairs)
def test_scores_are_in_unit_interval(pair: tuple[list[int], list[int]]) -> None:
    gold, pred = pair
    for prf in (bcubed(pred, gold), pairwise(pred, gold)):
        for value in (prf.precision, prf.recall, prf.f1):
            assert 0.0 <= value <= 1.0 + 1e-12
    assert -1.0 <= adjusted_rand(pred, gold) <= 1.0 + 1e-12


@given(label_pairs, st.randoms(use_true_random=False))
def test_invariant_to_relabelling_and_order(pair: tuple[list[int], list[int]], rnd) -> None:  # type: ignore[no-untyped-def]
    gold, pred = pair
    new_names = list(range(6))
    rnd.shuffle(new_names)
    order = list(range(len(gold)))
    rnd.shuffle(order)
    pred2 = [("renamed", new_names[pred[i]]) for i in order]
    gold2 = [str(gold[i]) for i in order]
    before, after = score_clustering(pred, gold), score_clustering(pred2, gold2)
    assert after == pytest.approx(before)


@given(label_pairs)
def test_swapping_pred_and_gold_swaps_precision_and_recall(pair: tuple[list[int], list[int]]) -> None:
    gold, pred = pair
    for metric in (bcubed, pairwise):
        forward, backward = metric(pred, gold), metric(gold, pred)
        assert forward.precision == pytest.approx(backward.recall)
        assert forward.recall == pytest.approx(backward.precision)
