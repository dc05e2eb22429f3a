"""Event features: names, lead places and the five count blocks on tiny inline texts."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from dedup.cluster import SplitRows
from dedup.features import (
    _ENTITY,
    BLOCKS,
    _count_occurrences,
    _count_words,
    _opened_names,
    _writes_in_lower_case,
    count_features,
    count_features_in_parallel,
    extract_entities,
    lead_places,
    lead_text,
    merge_counts,
    tfidf,
    top_entities,
    top_entities_of_groups,
    weigh,
    weigh_split,
    weigh_within,
)

TITLES = ["Warehouse fire in Dunmore", None, "Flood closes Harbury school"]
TEXTS = [
    "A fire destroyed a warehouse in Dunmore on Monday. Fire chief Alan Price said nobody was hurt.",
    "Firefighters fought the blaze at the Dunmore depot overnight. Alan Price praised the crews.",
    "Heavy rain flooded a school in Harbury. Head teacher Mary Cole closed it for a week.",
]
DATELINES = ["Dunmore", None, None]


def test_title_words_split_names_and_possessives_are_dropped() -> None:
    text = "Deputy Foreign Minister Sergei Ryabkov spoke. Later Ryabkov's aide met Wendy Sherman for talks."
    entities = extract_entities(text)
    assert "sergei_ryabkov" in entities  # not "foreign_minister_sergei_ryabkov"
    assert entities.count("ryabkov") == 2  # "Ryabkov's" is the same name
    assert not any("minister" in e or "deputy" in e for e in entities)


def test_title_case_title_does_not_invent_names() -> None:
    title = "Talks End Without Any Deal As Delegates Leave Vienna"
    text = "The talks ended without a deal in Vienna, and delegates went home."
    entities = extract_entities(text, title)
    assert set(entities) == {"vienna"}


def test_name_ending_the_title_does_not_join_the_first_word_of_the_text() -> None:
    lead = lead_text("Talks end in Vienna", "Delegates left early. Nothing was agreed.", 1)
    assert lead == "Talks end in Vienna\nDelegates left early."
    assert lead_places(lead) == ["@vienna"]
    assert "vienna_delegates" not in extract_entities(lead)


def test_lead_places_skip_modifiers() -> None:
    lead = "Troops gathered at the Ukrainian border while ministers met in Brussels and at NATO headquarters."
    assert lead_places(lead) == ["@brussels", "@nato"]


def test_count_features_blocks_align_with_articles() -> None:
    counts = count_features(TITLES, TEXTS, DATELINES, lead_sentences=1)
    assert len(counts.blocks) == len(counts.vocabularies) == len(BLOCKS)
    assert all(block.shape == (3, len(vocab)) for block, vocab in zip(counts.blocks, counts.vocabularies, strict=True))
    assert counts.n == 3 and len(counts.primary_places) == 3
    places = counts.vocabularies[BLOCKS.index("lead_places")]
    rows = counts.blocks[BLOCKS.index("lead_places")].toarray()
    # Title, first sentence and dateline of article 0 all place it in Dunmore; "at the Dunmore
    # depot" of article 1 names a depot, not where the event is.
    assert rows[:, list(places).index("@dunmore")].tolist() == [3, 0, 0]
    assert rows[2, list(places).index("@harbury")] == 1
    # Body words of the second sentence are kept, lead words are not.
    body = list(counts.vocabularies[0])
    lead = list(counts.vocabularies[1])
    assert "crews" in body and "crews" not in lead


def test_word_counts_equal_a_count_vectorizer_with_the_same_words() -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [*TEXTS, "", "the of and", "Warehouse-fire warehouse WAREHOUSE warehouse's 12 blaze2"]
    titles = [*TITLES, None, "The", None]
    counts = count_features(titles, texts, [None] * len(texts), lead_sentences=1)
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_][\w'’-]+\b")
    expected = vectorizer.fit_transform([f"{t or ''}\n{x}" for t, x in zip(titles, texts, strict=True)])
    assert counts.vocabularies[0].tolist() == vectorizer.get_feature_names_out().tolist()
    assert (counts.blocks[0] != expected).nnz == 0
    assert counts.blocks[0][5, counts.vocabularies[0].tolist().index("warehouse")] == 2
    assert counts.blocks[0].has_sorted_indices and counts.blocks[0].dtype == np.float32


def test_local_idf_gives_shared_terms_no_weight() -> None:
    counts = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1]], dtype=np.float32))
    local = tfidf(counts, local=True).toarray()
    batch = tfidf(counts, local=False).toarray()
    assert np.allclose(local[:, 0], 0.0)  # in every row: says nothing about which event
    assert (batch[:, 0] > 0).all()
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0)


def test_weigh_gives_weighted_mean_of_block_cosines() -> None:
    counts = count_features(TITLES, TEXTS, DATELINES, lead_sentences=1)
    weights = (0.2, 0.1, 0.3, 0.25, 0.15)
    stacked = weigh(counts, None, weights, local=False)
    expected = sum(
        w * (tfidf(b, local=False) @ tfidf(b, local=False).T).toarray()
        for w, b in zip(weights, counts.blocks, strict=True)
    ) / sum(weights)
    assert np.allclose((stacked @ stacked.T).toarray(), expected, atol=1e-5)


def _assert_same_counts(a, b) -> None:  # type: ignore[no-untyped-def]
    for x, y, vx, vy in zip(a.blocks, b.blocks, a.vocabularies, b.vocabularies, strict=True):
        assert vx.tolist() == vy.tolist()
        assert x.shape == y.shape and (x != y).nnz == 0
    assert a.primary_places == b.primary_places


def test_counts_of_parts_merge_into_the_counts_of_the_whole() -> None:
    whole = count_features(TITLES, TEXTS, DATELINES, lead_sentences=1)
    # "harbury", "mary" and "cole" are only in the second part, "dunmore" only in the first.
    parts = [count_features(TITLES[a:b], TEXTS[a:b], DATELINES[a:b], lead_sentences=1) for a, b in ((0, 2), (2, 3))]
    _assert_same_counts(merge_counts(parts), whole)


def test_counting_in_worker_processes_gives_the_same_counts() -> None:
    whole = count_features(TITLES, TEXTS, DATELINES, lead_sentences=1)
    parallel = count_features_in_parallel(TITLES, TEXTS, DATELINES, lead_sentences=1, workers=2, chunk=1)
    _assert_same_counts(parallel, whole)


def test_counting_in_a_given_pool_uses_it_and_gives_the_same_counts() -> None:
    from concurrent.futures import ThreadPoolExecutor

    whole = count_features(TITLES, TEXTS, DATELINES, lead_sentences=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = count_features_in_parallel(
            TITLES, TEXTS, DATELINES, lead_sentences=1, workers=2, chunk=1, pool=pool
        )
        assert pool.submit(len, TEXTS).result() == 3  # the pool is left open for later work
    _assert_same_counts(parallel, whole)


def test_weigh_within_equals_weighing_each_group_alone() -> None:
    titles, texts, datelines = TITLES * 2, TEXTS + TEXTS[::-1], DATELINES * 2
    counts = count_features(titles, texts, datelines, lead_sentences=1)
    groups = np.array([0, 1, 0, 1, 0, 1])
    weights = (0.1, 0.1, 0.3, 0.3, 0.2)
    together = weigh_within(counts.blocks, groups, weights, offset=0.25)
    for group in (0, 1):
        rows = np.flatnonzero(groups == group)
        alone = weigh(counts, rows, weights, offset=0.25)
        assert np.allclose((together[rows] @ together[rows].T).toarray(), (alone @ alone.T).toarray(), atol=1e-6)
        # The same weights, only over the batch columns: every block has the same norm.
        assert np.allclose(np.sort(together[rows].data), np.sort(alone.data), atol=1e-6)


def test_top_entities_ranks_by_article_count() -> None:
    lists = [["alan_price", "price", "dunmore", "#3"], ["price", "dunmore", "dunmore"], ["harbury"]]
    assert top_entities(lists, 2) == ["Dunmore", "Price"]


def test_top_entities_of_groups_rank_each_group_on_its_own() -> None:
    texts = [
        "Fire chief Alan Price said the Dunmore warehouse burned. Price praised crews in Dunmore.",
        "In Dunmore, Alan Price said 40 firefighters came.",
        "Mary Cole said the Harbury school will stay shut, Cole told parents in Harbury.",
    ]
    counts = count_features([None] * 3, texts, [None, None, "Harbury"], lead_sentences=2)
    fire, school = top_entities_of_groups(counts, [[0, 1], [2]], 3)
    assert fire == ["Alan Price", "Dunmore", "Price"]
    assert school == ["Mary Cole", "Cole", "Harbury"]  # one article: names of several words first


_NAMES = st.sampled_from(["Alan Price", "Dunmore", "Mary Cole", "Harbury", "NATO", "Ryabkov"])


@given(
    st.lists(st.lists(_NAMES, max_size=4).map(lambda ns: " and ".join(ns) + " met on 3 May."), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
    st.integers(1, 4),
)
def test_top_entities_of_groups_equal_top_entities_of_each_group(texts: list[str], rng: Any, k: int) -> None:
    counts = count_features([None] * len(texts), texts, [None] * len(texts), lead_sentences=2)
    rows = list(range(len(texts)))
    rng.shuffle(rows)
    cut = rng.randint(0, len(rows))
    groups = [g for g in (sorted(rows[:cut]), rows[cut:]) if g]
    expected = [top_entities([extract_entities(texts[r]) for r in g], k) for g in groups]
    assert top_entities_of_groups(counts, groups, k) == expected


@given(st.lists(st.text(alphabet="AbcD efG.,'\n", max_size=60), min_size=1, max_size=4))
def test_count_features_never_fails_and_counts_are_non_negative(texts: list[str]) -> None:
    counts = count_features([None] * len(texts), texts, [None] * len(texts), lead_sentences=2)
    assert counts.n == len(texts)
    assert all(block.shape[0] == len(texts) and (block.data >= 0).all() for block in counts.blocks)


# Text dense in what the shortcuts of feature counting have to get right: sentence openings
# (marks, closing and opening quotes, line breaks), capitals, name links, apostrophes and
# hyphens at word edges, digits, "_", and characters outside ASCII that are or are not word
# characters.
_FEATURE_PIECES = ["A", "Bo", "Cy", "a", "bo", "cy", "of", "3", "_", " ", "  ", "\n", ".", "!", "?", ",", "'", '"',
                   "(", ")", "[", "-", "’", "—", "é", "½", "'s", "the"]  # fmt: skip
feature_text = st.lists(st.sampled_from(_FEATURE_PIECES), max_size=40).map("".join)
_SENTENCE_START = re.compile(r"(?:[.!?]['\")\]]*\s+|\n\s*)['\"(\[]?")
_LOWER_WORD = re.compile(r"\b[a-z][\w'’-]*")
_WORD = re.compile(r"(?u)\b[^\W\d_][\w'’-]+\b")


@settings(max_examples=400, deadline=None)
@given(feature_text)
@example("Bo. Cy of A Bo\n'Cy. (Bo A. 'Bo!' Cy")
def test_opened_names_are_the_names_with_whether_they_open_a_sentence(text: str) -> None:
    starts = {0} | {m.end() for m in _SENTENCE_START.finditer(text)}
    expected = [(m.group(), m.start() in starts) for m in _ENTITY.finditer(text)]
    found = [
        (name, False) if "A" <= name[0] <= "Z" else (_ENTITY.findall(name)[0], True) for name in _opened_names(text)
    ]
    assert found == expected


@settings(max_examples=400, deadline=None)
@given(feature_text, st.sampled_from(["bo", "cy", "a", "s", "the", "bo-cy", "bo's", "é", "", "A"]))
@example("Bo-bo bo", "bo")
@example("3-bo", "bo")
@example("bo-cy", "cy")
@example("A-cy", "cy")
@example("bo'cy A's", "s")
def test_lower_case_test_equals_finding_all_lower_case_words(text: str, word: str) -> None:
    assert _writes_in_lower_case(text, word) == (word in set(_LOWER_WORD.findall(text)))


@settings(max_examples=400, deadline=None)
@given(st.lists(feature_text, max_size=4))
@example(["187-year-old 'hunger games' ladies' b52 x-ray 3-d _ab a--b it's the"])
@example(["it’s a — bo", "bo—cy’s “Bo” bo-bo", ""])
@example(["İstanbul ΑΣ.Β straße", "\udc80bo cy"])
def test_word_counts_equal_counting_the_pattern_matches(texts: list[str]) -> None:
    matrix, vocabulary = _count_words(texts)
    assert list(vocabulary) == sorted(vocabulary) and matrix.shape == (len(texts), len(vocabulary))
    assert matrix.has_canonical_format and (matrix.getnnz(axis=0) > 0).all()
    for row, text in enumerate(texts):
        expected = Counter(w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS)
        line = matrix.getrow(row)
        assert dict(zip(vocabulary[line.indices], line.data.tolist(), strict=True)) == expected


def test_batch_shares_phrase_features_but_not_what_depends_on_the_article() -> None:
    # "Rescue Teams" opens a sentence in both; only the first also writes "rescue" in lower
    # case, so only there is "Rescue" taken for an ordinary sentence-initial word.
    texts = ["Rescue Teams arrived. The rescue took hours.", "Rescue Teams arrived. Officials thanked Rescue Teams."]
    counts = count_features([None, None], texts, [None, None], lead_sentences=1)
    assert [_entity_row(counts, i) for i in range(2)] == [Counter(extract_entities(text)) for text in texts]
    assert _entity_row(counts, 0) == {"teams": 1}
    assert _entity_row(counts, 1) == {"rescue_teams": 2, "teams": 2}


def test_phrases_kept_from_earlier_batches_do_not_change_the_counts(monkeypatch: Any) -> None:
    # The same phrase opens a sentence in both batches; only the first batch also writes
    # "rescue" in lower case. Whatever an earlier batch left behind, each batch's entity
    # counts are those of its articles alone, also when the kept phrases are dropped.
    import dedup.features as features

    first, second = ["Rescue Teams arrived. The rescue took hours."], ["Rescue Teams arrived. Officials thanked Rescue Teams."]
    expected = [Counter(extract_entities(text)) for text in first + second]
    for kept in (0, 1_000_000):
        monkeypatch.setattr(features, "_PHRASES", features._NamePhrases())
        monkeypatch.setattr(features, "_KEPT_PHRASES", kept)
        counted = [count_features([None], texts, [None], lead_sentences=1) for texts in (first, second, first)]
        assert [_entity_row(counts, 0) for counts in counted] == [expected[0], expected[1], expected[0]]
        # "The" opens a sentence of the first batch, "Officials" one of the second only.
        assert "The" in features._PHRASES.whole
        assert ("Officials" in features._PHRASES.whole) == (kept > 0)


def _entity_row(counts, i: int) -> Counter[str]:  # type: ignore[no-untyped-def]
    """The entity block's counts of article ``i``, by term."""
    block, vocabulary = counts.blocks[BLOCKS.index("entities")].tocsr(), counts.vocabularies[BLOCKS.index("entities")]
    span = slice(block.indptr[i], block.indptr[i + 1])
    return Counter(dict(zip(vocabulary[block.indices[span]].tolist(), block.data[span].astype(int).tolist(), strict=True)))


def test_a_blank_dateline_adds_no_empty_term() -> None:
    counts = count_features([None], ["Fire in Leeds."], ["  "], lead_sentences=1)
    assert extract_entities("Fire in Leeds.", None, "  ") == ["leeds", "", "", ""]  # the features as extracted
    assert _entity_row(counts, 0) == {"leeds": 1}
    assert "" not in counts.vocabularies[BLOCKS.index("entities")].tolist()
    assert "" not in counts.vocabularies[BLOCKS.index("lead_entities")].tolist()


@given(st.integers(0, 3), st.integers(1, 4))
def test_weigh_split_parts_sum_to_the_weighed_rows(max_df: int, rows_at_once: int) -> None:
    texts = [*TEXTS, "Alan Price opened a school in Dunmore.", "", "Rain, rain and more rain in Harbury."]
    counts = count_features([None] * len(texts), texts, [None] * len(texts), lead_sentences=1)
    weights = (1.0, 0.5, 2.0, 1.0, 0.25)
    whole = weigh(counts, None, weights)
    rare, common = weigh_split(counts, weights, max_df=max_df, rows_at_once=rows_at_once)
    df = np.bincount(whole.indices, minlength=whole.shape[1])
    assert set(rare.indices.tolist()) <= set(np.flatnonzero(df <= max_df).tolist())
    if common is None:
        assert not (df > max_df).any()
        assert (rare != whole).nnz == 0
    else:
        assert set(common.indices.tolist()) <= set(np.flatnonzero(df > max_df).tolist())
        assert ((rare + common) != whole).nnz == 0
        rows = SplitRows(rare, common)[np.array([3, 0])]
        assert rows.has_sorted_indices and (rows != whole[[3, 0]]).nnz == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(feature_text, min_size=1, max_size=6), st.data())
@example(["Bo é Cy", "A \udc80Bo", "Éa Bo"], None)
def test_counts_of_any_parts_merge_into_the_counts_of_the_whole(texts: list[str], data: Any) -> None:
    cuts = [0, 1, 2] if data is None else sorted(set(data.draw(st.lists(st.integers(0, len(texts))))))
    bounds = [0, *cuts, len(texts)]
    titles, datelines = [None] * len(texts), ["Bo é" if k % 2 else None for k in range(len(texts))]
    whole = count_features(titles, texts, datelines, lead_sentences=1)
    parts = [count_features(titles[a:b], texts[a:b], datelines[a:b], lead_sentences=1)
             for a, b in pairwise(bounds)]
    _assert_same_counts(merge_counts(parts), whole)


@given(st.lists(st.lists(st.sampled_from(["", "bo", "Bo", "#3", "é", "bo_cy", "\ud800bo", "z"]), max_size=5),
                max_size=5), st.booleans())
def test_occurrence_counts_equal_counting_each_list(lists: list[list[str]], skip_empty: bool) -> None:
    matrix, vocabulary = _count_occurrences(lists, skip_empty=skip_empty)
    assert list(vocabulary) == sorted(vocabulary) and matrix.shape == (len(lists), len(vocabulary))
    assert matrix.has_canonical_format and matrix.dtype == np.float32
    for row, terms in enumerate(lists):
        expected = Counter(t for t in terms if t or not skip_empty)
        line = matrix.getrow(row)
        assert dict(zip(vocabulary[line.indices], line.data.tolist(), strict=True)) == expected
