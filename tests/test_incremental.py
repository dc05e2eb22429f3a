from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from dedup.incremental import carry_cluster_ids

T = {"ev-a": datetime(2024, 1, 1), "ev-b": datetime(2024, 1, 2), "ev-c": datetime(2024, 1, 3)}


def test_new_articles_join_their_cluster_and_new_groups_get_new_ids():
    previous = {"a1": "ev-a", "a2": "ev-a", "b1": "ev-b"}
    carried = carry_cluster_ids([["a1", "a2", "n1"], ["b1"], ["n2", "n3"]], previous, T)
    assert carried.ids[:2] == ["ev-a", "ev-b"]
    assert carried.ids[2] not in {"ev-a", "ev-b"} and carried.ids[2].startswith("ev-")
    assert carried.retired == {}


def test_a_bridge_keeps_the_older_id_and_retires_the_younger():
    previous = {"a1": "ev-a", "b1": "ev-b", "b2": "ev-b"}
    carried = carry_cluster_ids([["a1", "b1", "b2", "bridge"]], previous, T)
    assert carried.ids == ["ev-a"]
    assert carried.retired == {"ev-b": "ev-a"}


def test_a_split_keeps_the_id_on_the_larger_part():
    previous = {"a1": "ev-a", "a2": "ev-a", "a3": "ev-a"}
    carried = carry_cluster_ids([["a1"], ["a2", "a3"]], previous, T)
    assert carried.ids[1] == "ev-a"
    assert carried.ids[0] != "ev-a"


def test_retired_ids_are_never_issued_again():
    carried = carry_cluster_ids([["x"]], {}, {}, taken=frozenset())
    again = carry_cluster_ids([["x"]], {}, {}, taken=frozenset(carried.ids))
    assert again.ids[0] != carried.ids[0]


@given(st.lists(st.lists(st.sampled_from([f"d{i}" for i in range(12)]), min_size=1, max_size=5, unique=True),
                min_size=1, max_size=6))
def test_ids_are_unique_and_unchanged_input_keeps_every_id(groups):
    seen: set[str] = set()
    groups = [[a for a in g if not (a in seen or seen.add(a))] for g in groups]
    groups = [g for g in groups if g]
    first = carry_cluster_ids(groups, {}, {})
    assert len(set(first.ids)) == len(first.ids)
    previous = {a: cid for g, cid in zip(groups, first.ids, strict=True) for a in g}
    created = {cid: datetime(2024, 1, 1) for cid in first.ids}
    again = carry_cluster_ids(groups, previous, created)
    assert again.ids == first.ids and again.retired == {}


def test_ids_without_a_known_creation_time_rank_youngest_with_aware_times():
    from datetime import UTC

    created = {"ev-old": datetime(2024, 1, 1, tzinfo=UTC)}
    carried = carry_cluster_ids([["a", "b"]], {"a": "ev-old", "b": "ev-unknown"}, created)
    assert carried.ids == ["ev-old"] and carried.retired == {"ev-unknown": "ev-old"}
