"""Event clustering on tiny inline corpora with planted events."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.cluster import average_linkage, cluster_events, cluster_id, link_pairs, time_factor
from dedup.config import ClusterConfig
from dedup.errors import ConfigError
from dedup.features import count_features

# Two events of the same kind (warehouse fires) that share the story's vocabulary but not its
# names or places, plus an unrelated event. Each event is told by several outlets in their own
# words, the way a batch of news holds them.
CORPUS = [
    ("dunmore", "Huge fire destroys warehouse in Dunmore",
     "A huge fire destroyed a furniture warehouse in Dunmore on Monday night. Fire chief Alan Price "
     "said forty firefighters fought the blaze for six hours and nobody was hurt. Residents were told "
     "to keep windows closed because of the smoke."),
    ("dunmore", "Dunmore warehouse blaze: no injuries",
     "Firefighters in Dunmore spent the night battling a blaze at a furniture warehouse. Alan Price, "
     "the fire chief, said the building was lost but no one was injured. Smoke drifted over the town."),
    ("dunmore", "Investigation opens into Dunmore fire",
     "Investigators in Dunmore began searching the ruins of the furniture warehouse that burned on "
     "Monday. Chief Alan Price said the cause of the fire was not yet known. The owner, Kestrel "
     "Furniture, thanked the firefighters."),
    ("dunmore", "Kestrel Furniture warehouse burns in Dunmore",
     "Kestrel Furniture lost its main warehouse in Dunmore to a fire on Monday. Fire chief Alan "
     "Price said crews saved the offices next door. The company said deliveries would be delayed."),
    ("harbury", "Fire guts factory in Harbury",
     "A fire gutted a paper factory in Harbury early on Thursday. Station officer Mary Cole said "
     "sixty firefighters were called and two workers were treated for smoke. The blaze lit up the "
     "night sky over the valley."),
    ("harbury", "Harbury paper mill destroyed by blaze",
     "Fire crews in Harbury fought through the night to control a blaze at the Pellow paper mill. "
     "Mary Cole, the station officer, said two workers were treated for smoke inhalation."),
    ("harbury", "Pellow mill fire: cause under investigation",
     "The fire that destroyed the Pellow paper factory in Harbury on Thursday is being investigated. "
     "Mary Cole said firefighters would stay on site for days. Pellow employs 300 people in Harbury."),
    ("harbury", "Harbury workers fear for jobs after mill fire",
     "Workers at the Pellow paper mill in Harbury fear for their jobs after Thursday's fire. Station "
     "officer Mary Cole said the building could not be saved. The owners promised to rebuild."),
    ("final", "Rovers win cup final in extra time",
     "Rovers beat United 2-1 after extra time to win the cup final at Ashgrove Park on Saturday. "
     "Striker Tomas Berg scored the winner in the 112th minute."),
    ("final", "Berg strikes late as Rovers lift the cup",
     "Tomas Berg scored deep into extra time as Rovers beat United 2-1 in the cup final at Ashgrove "
     "Park. Manager Jo Evans praised the players."),
    ("final", "Cup final: Rovers 2 United 1",
     "Rovers won the cup for the first time in a decade, beating United 2-1 at Ashgrove Park. Tomas "
     "Berg's goal in extra time settled the final."),
]
GOLD = [event for event, _, _ in CORPUS]


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == label).tolist()) for label in np.unique(labels)}


def _gold_partition(order: list[int]) -> set[frozenset[int]]:
    return _partition(np.array([GOLD[i] for i in order]))


def _cluster(order: list[int], config: ClusterConfig | None = None, published: np.ndarray | None = None):
    config = config or ClusterConfig()
    docs = [CORPUS[i] for i in order]
    counts = count_features(
        [title for _, title, _ in docs], [text for _, _, text in docs], [None] * len(docs),
        lead_sentences=config.lead_sentences,
    )
    if published is None:
        published = np.full(len(docs), np.nan)
    return cluster_events(counts, published, config)


def test_two_events_of_the_same_kind_are_split_and_paraphrases_kept_together() -> None:
    order = list(range(len(CORPUS)))
    assert _partition(_cluster(order)) == _gold_partition(order)


def test_labels_are_numbered_by_first_member() -> None:
    labels = _cluster(list(range(len(CORPUS))))
    firsts = [int(np.flatnonzero(labels == label)[0]) for label in range(labels.max() + 1)]
    assert firsts == sorted(firsts) and labels[0] == 0


def test_same_input_gives_identical_labels() -> None:
    order = list(range(len(CORPUS)))
    assert np.array_equal(_cluster(order), _cluster(order))


@settings(max_examples=15, deadline=None)
@given(st.permutations(list(range(len(CORPUS)))))
def test_partition_does_not_depend_on_input_order(order: list[int]) -> None:
    reference = _partition(_cluster(list(range(len(CORPUS)))))
    mapped = {frozenset(order[i] for i in group) for group in _partition(_cluster(order))}
    assert mapped == reference


def test_far_apart_publication_separates_otherwise_similar_articles() -> None:
    day = 86400.0
    rows = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], dtype=np.float32))
    near = np.array([0.0, 1 * day, 2 * day])
    far = np.array([0.0, 1 * day, 400 * day])
    assert average_linkage(rows, near, threshold=0.5, max_days_apart=30.0).tolist() == [0, 0, 0]
    assert average_linkage(rows, far, threshold=0.5, max_days_apart=30.0).tolist() == [0, 0, 1]
    # An unknown date never pulls articles apart.
    assert time_factor(np.array([0.0, np.nan]), np.array([0]), np.array([1]), 7.0).tolist() == [1.0]


def test_average_linkage_never_joins_unconnected_groups() -> None:
    # Two groups with no similar pair across them stay apart at any threshold above zero.
    rows = sp.csr_matrix(np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32))
    rows = sp.csr_matrix(rows.multiply(1 / np.sqrt(rows.multiply(rows).sum(axis=1))))
    labels = average_linkage(rows, np.full(4, np.nan), threshold=0.5, max_days_apart=7.0)
    assert labels.tolist() == [0, 0, 1, 1]


def _planted_groups(n_groups: int, size: int, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """Unit rows in ``n_groups`` groups: each row is its group's axis plus a little noise on
    a few shared axes, so rows of one group have similarity about 0.9 and others about 0."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), size)
    dense = np.zeros((len(groups), n_groups + 8), dtype=np.float32)
    dense[np.arange(len(groups)), groups] = 1.0
    dense[:, n_groups:] = rng.uniform(0.0, 0.1, size=(len(groups), 8))
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    return sp.csr_matrix(dense), groups


def test_link_pairs_gives_each_row_at_most_15_later_neighbours() -> None:
    # 100 identical rows: every pair is above the threshold, but the graph stays bounded.
    rows = sp.csr_matrix(np.ones((100, 1), dtype=np.float32))
    i, j, s = link_pairs(rows, 0.5, np.full(100, np.nan), 30.0)
    assert np.bincount(i, minlength=100).max() == 15
    assert (i < j).all() and np.allclose(s, 1.0)
    # Ties go to the earlier rows, so the graph is connected.
    assert len(np.unique(np.concatenate([i, j]))) == 100


def test_link_pairs_finds_every_pair_when_rows_have_few_neighbours() -> None:
    rows, groups = _planted_groups(60, 5)
    i, j, s = link_pairs(rows, 0.5, np.full(len(groups), np.nan), 30.0)
    expected = {(a, b) for a in range(len(groups)) for b in range(a + 1, len(groups)) if groups[a] == groups[b]}
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == expected
    dense = (rows @ rows.T).toarray()
    assert np.allclose(s, dense[i, j], atol=1e-6)


def test_average_linkage_of_a_large_batch_recovers_planted_groups() -> None:
    # More rows than are clustered in one dense piece: the neighbour graph path.
    rows, groups = _planted_groups(400, 3)
    labels = average_linkage(rows, np.full(len(groups), np.nan), threshold=0.5, max_days_apart=30.0)
    assert _partition(labels) == _partition(groups)


def test_cluster_id_depends_only_on_the_members() -> None:
    assert cluster_id(["b", "a", "c"]) == cluster_id(["c", "b", "a"])
    assert cluster_id(["a"]) != cluster_id(["b"])
    assert cluster_id(["a"]).startswith("ev-") and len(cluster_id(["a"])) == 15


@pytest.mark.parametrize(
    "change",
    [
        {"story_weights": (1.0, 0.0, 0.0, 0.0)},
        {"event_weights": (0.0, 0.0, 0.0, 0.0, 0.0)},
        {"event_threshold": 1.5},
        {"min_event_size": 0},
        {"max_days_apart": 0.0},
    ],
)
def test_config_rejects_bad_settings(change: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        replace(ClusterConfig(), **change)
