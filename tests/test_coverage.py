"""Order-aware coverage: edited, cut copies kept; articles with passages of their own inside dropped."""

from __future__ import annotations

import numpy as np
import pytest

import dedup.coverage as coverage_module
from dedup.coverage import CoverageCheck, sequences_from_hashes, token_coverage
from dedup.duplicates import shingle_sets, verify_pairs
from dedup.minhash import shingle_hashes

WORDS = [f"w{i}" for i in range(400)]


def words(start: int, stop: int) -> list[str]:
    return WORDS[start:stop]


def check(hashes: list[np.ndarray], **settings: object) -> CoverageCheck:
    return CoverageCheck(sequences_of=lambda docs: sequences_from_hashes(hashes, docs), shingle_size=5,
                         **settings)  # type: ignore[arg-type]


def verify(texts: list[list[str]], pairs: list[tuple[int, int]], on: bool = True, jaccard: float = 0.5,
           **settings: object) -> set[tuple[int, int]]:
    """Pairs kept by Jaccard (0.5) or containment 0.8, and by the coverage check when ``on``."""
    hashes = [shingle_hashes(t, 5) for t in texts]
    kept, _ = verify_pairs(np.array(pairs), shingle_sets(hashes), jaccard, 0.8,
                           coverage=check(hashes, **settings) if on else None)
    return {tuple(p) for p in kept.tolist()}


def edited_cut_copy() -> list[str]:
    # The first 75 of 100 words, six of them replaced by a copy editor (one word in 12).
    copy = words(0, 75)
    for k in (5, 17, 29, 41, 53, 65):
        copy[k] = f"x{k}"
    return copy


def test_an_edited_cut_copy_is_kept_by_coverage_alone():
    original, copy = words(0, 100), edited_cut_copy()
    # Its shingle Jaccard and containment are far too low ...
    assert verify([original, copy], [(0, 1)], on=False) == set()
    # ... but 69 of its 75 words lie in shingles the original has.
    assert verify([original, copy], [(0, 1)], threshold=0.9, max_inner_gap=45) == {(0, 1)}
    assert verify([original, copy], [(0, 1)], threshold=0.95, max_inner_gap=45) == set()


def test_coverage_and_the_inner_gap_of_a_planted_pair():
    original, copy = words(0, 100), edited_cut_copy()
    hashes = [shingle_hashes(original, 5), shingle_hashes(copy, 5)]
    sequences = sequences_from_hashes(hashes)
    sets = shingle_sets(hashes)
    values = np.concatenate(sets)
    offsets = np.concatenate(([0], np.cumsum([len(s) for s in sets]))).astype(np.int64)
    cov, gap = token_coverage(np.array([1, 0]), sequences, np.array([0, 1]), values, offsets, 5)
    assert cov[0] == pytest.approx(69 / 75)
    # The original: its six replaced words and its cut end (an edge, not inside) are uncovered.
    assert cov[1] == pytest.approx(69 / 100)
    assert gap.tolist() == [1, 1]


def with_own_words(text: list[str]) -> list[str]:
    """The text with three words of its own (a version of the story, or an edited copy)."""
    return [f"y{k}" if k in (20, 50, 90) else word for k, word in enumerate(text)]


def test_a_passage_of_its_own_inside_an_article_is_no_copy():
    # a tells b's first and last 60 words with 50 words of its own between them, and b has
    # three words of its own: two versions of a story.
    a = words(0, 60) + words(200, 250) + words(60, 120)
    b = with_own_words(words(0, 120))
    assert verify([a, b], [(0, 1)], on=False) == {(0, 1)}  # Jaccard 0.52
    assert verify([a, b], [(0, 1)], threshold=0.9, max_inner_gap=45) == set()
    assert verify([a, b], [(0, 1)], threshold=0.9, max_inner_gap=None) == {(0, 1)}
    # Without words of its own, b lies wholly inside a: a copy with a paragraph cut.
    assert verify([a, words(0, 120)], [(0, 1)], threshold=0.9, max_inner_gap=45) == {(0, 1)}
    # A passage of its own inside the shorter text counts whatever its coverage.
    longer = words(0, 60) + words(60, 200)
    shorter = words(0, 60) + words(300, 350) + words(60, 90)
    assert verify([longer, shorter], [(0, 1)], on=False, jaccard=0.3) == {(0, 1)}
    assert verify([longer, shorter], [(0, 1)], threshold=0.9, max_inner_gap=45, jaccard=0.3) == set()
    # Site furniture at the start and a cut end are edges, not inner stretches.
    framed = words(300, 360) + words(0, 100)
    assert verify([framed, words(0, 120)], [(0, 1)], threshold=0.9, max_inner_gap=45) == {(0, 1)}


def test_a_shared_stock_phrase_does_not_split_a_passage_of_its_own():
    # a's 60 own words in the middle repeat five words of b: still one stretch of its own.
    own = words(200, 230) + words(10, 15) + words(230, 255)
    a = words(0, 60) + own + words(60, 120)
    assert verify([a, with_own_words(words(0, 120))], [(0, 1)], threshold=0.9, max_inner_gap=45) == set()


def test_distinct_articles_sharing_a_quote_stay_apart():
    quote = words(0, 30)
    a, b = words(100, 160) + quote, quote + words(200, 250)
    assert verify([a, b], [(0, 1)], threshold=0.9, max_inner_gap=45, min_containment=0.0) == set()


def _reference(seq: np.ndarray, other: np.ndarray, k: int) -> tuple[float, int]:
    """Coverage and longest inner uncovered stretch, the plain way."""
    n = len(seq) + k - 1
    covered = [any(seq[j] in other for j in range(max(0, t - k + 1), min(t, len(seq) - 1) + 1)) for t in range(n)]
    runs: list[list[int]] = []  # [value, start, length]
    for t, c in enumerate(covered):
        if runs and runs[-1][0] == c:
            runs[-1][2] += 1
        else:
            runs.append([c, t, 1])
    for run in runs:
        if run[0] and run[2] < 2 * k:
            run[0] = False
    merged: list[list[int]] = []
    for value, start, length in runs:
        if merged and merged[-1][0] == value:
            merged[-1][2] += length
        else:
            merged.append([value, start, length])
    inner = [length for value, start, length in merged if not value and start > 0 and start + length < n]
    return sum(covered) / n, max(inner, default=0)


def test_token_coverage_equals_the_plain_definition(monkeypatch):
    rng = np.random.default_rng(7)
    monkeypatch.setattr(coverage_module, "_COVERAGE_CHUNK", 300)  # several chunks
    docs = [rng.integers(0, 150, size=int(rng.integers(1, 120))).astype(np.uint32) for _ in range(30)]
    sequences = sequences_from_hashes(docs)
    sets = [np.unique(d) for d in docs]
    values = np.concatenate(sets)
    offsets = np.concatenate(([0], np.cumsum([len(s) for s in sets]))).astype(np.int64)
    pairs = rng.integers(0, 30, size=(60, 2))
    pairs[:10, 1] = pairs[:10, 0]  # a document against itself: all covered
    cov, gap = token_coverage(pairs[:, 0], sequences, pairs[:, 1], values, offsets, 5)
    assert (gap > 0).sum() >= 5 and (cov < 1).sum() >= 20 and (cov == 1).sum() >= 10
    for (i, j), c, g in zip(pairs.tolist(), cov, gap, strict=True):
        expected_cov, expected_gap = _reference(docs[i], set(docs[j].tolist()), 5)
        assert c == pytest.approx(expected_cov) and g == expected_gap


def _edited_cut(text: str) -> str:
    """One word in 15 changed by a copy editor, and the last quarter cut."""
    tokens = text.split()
    for k in range(10, len(tokens), 15):
        tokens[k] = "reportedly"
    return " ".join(tokens[: int(len(tokens) * 0.75)])


def test_the_pipeline_groups_an_edited_cut_copy_with_its_original(tmp_path):
    import json
    from dataclasses import replace

    import pyarrow.parquet as pq

    from dedup.config import PipelineConfig
    from dedup.pipeline import run_pipeline
    from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED

    original = QUAKE_A[0][1] + " " + QUAKE_B[0][1]
    rows = [("original", original), ("copy", _edited_cut(original)), ("other", UNRELATED[1])]
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows), encoding="utf-8")

    def groups(config: PipelineConfig) -> dict[str, str]:
        out = tmp_path / f"out-{config.duplicates.coverage_threshold}"
        run_pipeline([source], out, config)
        table = pq.read_table(out / "articles.parquet", columns=["article_id", "dup_group_id"]).to_pydict()
        return dict(zip(table["article_id"], table["dup_group_id"], strict=True))

    found = groups(PipelineConfig())
    assert found["copy"] == found["original"] != found["other"]
    off = PipelineConfig(duplicates=replace(PipelineConfig().duplicates, coverage_threshold=None))
    apart = groups(off)
    assert apart["copy"] != apart["original"]  # Jaccard and containment alone miss it


def test_raw_texts_and_their_normalised_forms_give_the_same_sequences():
    from dedup.coverage import shingle_sequences
    from dedup.text import normalize_for_hash

    texts = ["The Mayor’s office said — on Monday — that it’s «fine».", "Ça va? Déjà vu, NAÏVE café!", "", "a b"]
    raw = shingle_sequences(texts, np.arange(4), 2)
    normalised = shingle_sequences([normalize_for_hash(t) for t in texts], np.arange(4), 2, normalized=True)
    assert np.array_equal(raw.values, normalised.values) and np.array_equal(raw.offsets, normalised.offsets)
    assert raw.offsets.tolist()[-2:] == [raw.offsets[-3], raw.offsets[-3] + 1]  # "" has none, "a b" one


def test_verification_takes_the_sequences_or_the_texts_alike():
    from dedup.config import DuplicateConfig
    from dedup.coverage import ShingleSequences
    from dedup.duplicates import ShingleSets, verify_candidates
    from dedup.minhash import sketch_texts_with_sequences
    from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED

    original = QUAKE_A[0][1] + " " + QUAKE_B[0][1]
    texts = [original, _edited_cut(original), UNRELATED[1], original + " " + UNRELATED[1]]
    _, values, offsets, hashes, hash_offsets = sketch_texts_with_sequences(texts, 32, 5, 1)
    docs = np.arange(len(texts))
    sets = ShingleSets(docs, values, offsets)
    pairs = np.array([(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))])
    config = DuplicateConfig()
    from_texts = verify_candidates(pairs, sets, config, lambda rows: [texts[int(r)] for r in rows], 5)
    from_sequences = verify_candidates(pairs, sets, config, None, 5,
                                       sequences=ShingleSequences(docs, hashes, hash_offsets))
    assert from_texts[0].tolist() == from_sequences[0].tolist()
    assert from_texts[1].tolist() == from_sequences[1].tolist()
    assert [0, 1] in from_texts[0].tolist()  # the edited, cut copy: by coverage
    with pytest.raises(ValueError):
        verify_candidates(pairs, sets, config, None, 5)


def test_nothing_is_covered_by_an_empty_set_and_an_empty_document_has_no_coverage():
    docs = [np.arange(10, dtype=np.uint32), np.empty(0, dtype=np.uint32)]
    sequences = sequences_from_hashes(docs)
    values = np.arange(10, dtype=np.uint32)
    offsets = np.array([0, 10, 10], dtype=np.int64)  # set 0: the document's shingles; set 1: empty
    cov, gap = token_coverage(np.array([0, 0, 1]), sequences, np.array([1, 0, 0]), values, offsets, 5)
    assert cov.tolist() == [0.0, 1.0, 0.0] and gap.tolist() == [0, 0, 0]
