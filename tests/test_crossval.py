"""Cross-validation over topics: folds of whole topics, one pipeline run per batch, choices."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from dedup.config import ClusterConfig, PipelineConfig
from dedup.errors import InputError
from dedup.evaluation.crossval import (
    Batch,
    choose,
    cluster_batch,
    nested_choices,
    prepare_batch,
    prepare_files,
    score_batch,
    topic_folds,
)
from dedup.evaluation.ecbplus import LabelledArticle
from dedup.evaluation.harness import evaluate_clustering
from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED

REPO_ROOT = Path(__file__).resolve().parents[1]


def _article(article_id: str, topic: str, event: str = "e") -> LabelledArticle:
    return LabelledArticle(article_id, f"text of {article_id}", f"{topic}-{event}", topic=topic)


# Seven topics of one to three articles each.
TOPICS = [_article(f"t{t}-{k}", str(t)) for t in (1, 2, 3, 10, 11, 20, 30) for k in range(1 + t % 3)]


def _same_partition(a: list[object], b: list[object]) -> bool:
    return len(set(a)) == len(set(zip(a, b, strict=True))) == len(set(b))


# ------------------------------------------------------------------------------------- folds


def test_folds_hold_whole_topics_and_every_article_once() -> None:
    folds = topic_folds(TOPICS, k=3, seed=0)
    assert sorted(a.id for fold in folds for a in fold) == sorted(a.id for a in TOPICS)
    topics_of = [{a.topic for a in fold} for fold in folds]
    assert sorted(len(t) for t in topics_of) == [2, 2, 3]  # seven topics dealt in turn
    assert not (topics_of[0] & topics_of[1] or topics_of[0] & topics_of[2] or topics_of[1] & topics_of[2])


def test_folds_are_deterministic_and_keep_input_order() -> None:
    assert topic_folds(TOPICS, k=3, seed=4) == topic_folds(list(TOPICS), k=3, seed=4)
    for fold in topic_folds(TOPICS, k=3, seed=4):
        assert [TOPICS.index(a) for a in fold] == sorted(TOPICS.index(a) for a in fold)
    assignments = {tuple(frozenset(a.topic for a in f) for f in topic_folds(TOPICS, k=3, seed=s)) for s in range(5)}
    assert len(assignments) > 1  # the seed changes the deal


def test_folds_refuse_what_cannot_be_dealt() -> None:
    with pytest.raises(InputError, match="topic"):
        topic_folds([*TOPICS, LabelledArticle("x", "text", "e")], k=3)
    with pytest.raises(InputError, match="7 topics"):
        topic_folds(TOPICS, k=8)
    with pytest.raises(ValueError, match="at least 2"):
        topic_folds(TOPICS, k=1)


# ----------------------------------------------------------------------------------- choices

KNOBS = {"simple": 2, "rich": 9, "poor": 1}


def test_choose_takes_the_best_mean() -> None:
    picked = choose({"simple": [0.80, 0.80], "rich": [0.90, 0.86], "poor": [0.5, 0.5]}, KNOBS)
    assert (picked.name, round(picked.mean, 3), picked.knobs) == ("rich", 0.88, 9)


def test_choose_prefers_fewer_knobs_within_the_tie() -> None:
    assert choose({"simple": [0.879, 0.879], "rich": [0.88, 0.88]}, KNOBS).name == "simple"
    assert choose({"simple": [0.877, 0.877], "rich": [0.88, 0.88]}, KNOBS).name == "rich"
    assert choose({"simple": [0.877, 0.877], "rich": [0.88, 0.88]}, KNOBS, tie=0.005).name == "simple"


def test_choose_needs_knob_counts() -> None:
    with pytest.raises(ValueError, match="no knob count"):
        choose({"other": [0.9]}, KNOBS)
    with pytest.raises(ValueError, match="no settings"):
        choose({}, KNOBS)


def test_nested_choices_choose_on_the_other_folds_of_the_split() -> None:
    # "rich" shines on fold 0 alone; on every other fold "simple" is better.
    scores = {"simple": [0.70, 0.90, 0.90, 0.80, 0.80, 0.80], "rich": [1.00, 0.80, 0.80, 0.70, 0.70, 0.70]}
    nested = nested_choices(scores, KNOBS, k=3)
    # Fold 0 is scored with what folds 1 and 2 choose; folds 1 and 2 have fold 0 among theirs.
    assert nested[0] == ("simple", 0.70)
    assert nested[1] == ("rich", 0.80)  # (1.00 + 0.80) / 2 beats (0.70 + 0.90) / 2
    assert nested[2] == ("rich", 0.80)
    assert nested[3:] == [("simple", 0.80)] * 3  # the second split never sees the first


def test_nested_choices_check_the_folds() -> None:
    with pytest.raises(ValueError, match="every fold"):
        nested_choices({"simple": [0.1, 0.2, 0.3], "rich": [0.1, 0.2]}, KNOBS, k=3)
    with pytest.raises(ValueError, match="splits of 3"):
        nested_choices({"simple": [0.1, 0.2, 0.3, 0.4]}, KNOBS, k=3)


# ---------------------------------------------------------------------- one run, any setting

# Two earthquakes (one topic) and an unrelated article, a wire copy and an empty article.
QUAKES = [
    *(LabelledArticle(f"a{k}", f"{title}\n{text}", "quake-a", topic="1") for k, (title, text) in enumerate(QUAKE_A)),
    *(LabelledArticle(f"b{k}", f"{title}\n{text}", "quake-b", topic="1") for k, (title, text) in enumerate(QUAKE_B)),
    LabelledArticle("rates", f"{UNRELATED[0]}\n{UNRELATED[1]}", "rates", topic="2"),
    LabelledArticle("a0-copy", f"By Jane Miller, Daily Courier\n{QUAKE_A[0][0]}\n{QUAKE_A[0][1]}", "quake-a",
                    topic="1"),
    LabelledArticle("empty", "   ", "rates", topic="2"),
]
# One stage at a low threshold: the two earthquakes become one event.
OTHER = replace(ClusterConfig(), story_threshold=0.02, min_event_size=10**9, absorb_place_share=0.0, place_split_share=0.0)


@pytest.fixture(scope="module")
def batch() -> Batch:
    return prepare_batch(QUAKES)


def test_a_prepared_batch_keeps_copies_and_rejects(batch: Batch) -> None:
    assert batch.ids == [a.id for a in QUAKES]
    assert len(batch.texts) == 7  # the copy is clustered through its original; the empty one is rejected
    assert batch.canonical[batch.ids.index("a0-copy")] == batch.canonical[0]
    assert batch.canonical[-1] == -1
    labels = cluster_batch(batch, ClusterConfig())
    assert labels[-1] == "rejected:empty"
    assert labels[batch.ids.index("a0-copy")] == labels[0]


@pytest.mark.parametrize("config", [ClusterConfig(), OTHER], ids=["defaults", "other"])
def test_clustering_a_prepared_batch_is_what_the_pipeline_gives(batch: Batch, config: ClusterConfig) -> None:
    run = prepare_batch(QUAKES, PipelineConfig(cluster=config))
    assert _same_partition(cluster_batch(batch, config), run.pipeline_clusters)
    assert score_batch(batch, config) == evaluate_clustering(QUAKES, PipelineConfig(cluster=config))["method"]["bcubed_f1"]


def test_other_settings_give_other_clusters(batch: Batch) -> None:
    labels = cluster_batch(batch, OTHER)
    assert labels[batch.ids.index("a0")] == labels[batch.ids.index("b0")]
    assert score_batch(batch, OTHER) < score_batch(batch, ClusterConfig())


def test_the_sample_articles_are_their_two_events_under_the_defaults() -> None:
    sample = REPO_ROOT / "data" / "articles"
    gold = {p.stem: "geneva" if p.name < "004" else "brussels" for p in sorted(sample.glob("*.txt"))}
    batch = prepare_files([sample], gold)
    assert score_batch(batch, ClusterConfig()) == 1.0
    assert score_batch(batch, replace(ClusterConfig(), place_split_share=0.0)) < 1.0  # the place check splits them


def test_prepare_refuses_nothing_and_repeats() -> None:
    with pytest.raises(InputError, match="nothing"):
        prepare_batch([])
    with pytest.raises(InputError, match="unique"):
        prepare_batch([QUAKES[0], QUAKES[0]])


# ------------------------------------------------------------------------------- the script


def _load_script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("crossval_script", REPO_ROOT / "benchmarks" / "crossval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_knob_counts_of_the_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _load_script(monkeypatch)
    # story: threshold + 3 blocks + unequal; events: threshold + 5 blocks + unequal + offset;
    # absorption and its place rule; the place split.
    assert script.knob_count(ClusterConfig(), single_stage=False) == 16
    body_only = replace(ClusterConfig(), story_weights=(1.0, 0, 0, 0, 0), place_split_share=0.0)
    assert script.knob_count(body_only, single_stage=True) == 2
    grid = script.build_grid()
    assert len({s.name for s in grid}) == len(grid)
    assert script.default_name(grid).startswith("2s st=0.08 sw-tuned et=0.05 ew-tuned off=0.25")
