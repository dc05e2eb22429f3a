from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.minhash import (
    MAX_HASH,
    compute_signatures,
    estimate_jaccard,
    hash_shingle,
    shingle_hashes,
    shingles_of_texts,
    signatures_of_shingles,
    signatures_of_texts,
    unique_per_document,
)
from dedup.text import normalize_for_hash, tokenize

TEXT = (
    "The committee approved the budget on Monday after a long debate about school funding, "
    "road repairs and the cost of the new library in the town centre."
)


@given(
    st.lists(st.sampled_from(["a", "b", "c", "dd", "e1", "ß", "naïve"]), min_size=1, max_size=40),
    st.integers(1, 6),
)
@settings(max_examples=40, deadline=None)
def test_shingle_hashes_equal_the_scalar_hash_of_each_window(tokens, k):
    windows = [" ".join(tokens[i : i + k]) for i in range(max(1, len(tokens) - k + 1))]
    assert shingle_hashes(tokens, k).tolist() == [hash_shingle(w) for w in windows]


@given(st.lists(st.text(alphabet="ab cdÉé'’‘“”«»—–…\n.,-_1ß\u00a0\u200b", max_size=60), min_size=1, max_size=6),
       st.integers(1, 6))
@settings(max_examples=60, deadline=None)
def test_texts_are_shingled_as_their_normalised_tokens(texts, k):
    """The byte-level tokeniser gives the tokens of ``normalize_for_hash``, ASCII or not."""
    hashes, offsets = shingles_of_texts(texts, k)
    for i, text in enumerate(texts):
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == shingle_hashes(normalize_for_hash(text).split(), k).tolist()


def test_apostrophes_join_words_only_between_two_of_them():
    texts = ["rock'n'roll 'quoted' a''b it's_ OK'", "IT'S rock'n'roll"]
    hashes, offsets = shingles_of_texts(texts, 1)
    expected = ["rock'n'roll", "quoted", "a", "b", "it's_", "ok"]
    assert hashes[offsets[0] : offsets[1]].tolist() == [hash_shingle(t) for t in expected]
    assert hashes[offsets[1] : offsets[2]].tolist() == [hash_shingle(t) for t in ["it's", "rock'n'roll"]]


def test_empty_document_has_an_empty_signature():
    sig = compute_signatures([[], ["a", "b"]], num_perm=16)
    assert (sig[0] == MAX_HASH).all()
    assert (sig[1] != MAX_HASH).all()  # every bin of a document with shingles is filled


def test_batching_does_not_change_signatures():
    docs = [tokenize(TEXT)[i:] for i in range(10)]
    whole = compute_signatures(docs, num_perm=64)
    small_batches = compute_signatures(docs, num_perm=64, batch_shingles=7)
    assert np.array_equal(whole, small_batches)


def test_a_signature_depends_only_on_the_set_of_shingles():
    tokens = tokenize(TEXT)
    one = compute_signatures([tokens], num_perm=64, shingle_size=2)
    twice = compute_signatures([[*tokens, "x", *tokens]], num_perm=64, shingle_size=2)
    hashes = shingle_hashes(tokens, 2)
    shuffled = signatures_of_shingles(hashes[::-1].copy(), np.array([0, len(hashes)]), 64, 1)
    assert np.array_equal(one, shuffled)
    # the longer document only adds the shingles around "x"
    assert estimate_jaccard(one[0], twice[0]) > 0.8


def test_seed_changes_signatures_and_estimate_tracks_jaccard():
    a = tokenize(TEXT)
    b = [*a[:-6], "and", "a", "new", "swimming", "pool", "too"]
    sigs = compute_signatures([a, b], num_perm=256, shingle_size=3, seed=5)
    assert not np.array_equal(sigs, compute_signatures([a, b], num_perm=256, shingle_size=3, seed=6))
    shingles = [{tuple(t[i : i + 3]) for i in range(len(t) - 2)} for t in (a, b)]
    true = len(shingles[0] & shingles[1]) / len(shingles[0] | shingles[1])
    assert abs(estimate_jaccard(sigs[0], sigs[1]) - true) < 0.12


def test_estimate_is_unbiased_over_seeds_for_short_and_long_documents():
    """Agreement of densified one-permutation signatures tracks the Jaccard similarity, also
    when most bins of a short document are empty before densification."""
    rng = np.random.default_rng(3)
    for size, shared in ((12, 6), (600, 300)):
        common = rng.integers(0, 2**32, shared, dtype=np.uint64).astype(np.uint32)
        a = np.concatenate([common, rng.integers(0, 2**32, size - shared, dtype=np.uint64).astype(np.uint32)])
        b = np.concatenate([common, rng.integers(0, 2**32, size - shared, dtype=np.uint64).astype(np.uint32)])
        true = shared / (2 * size - shared)
        offsets = np.array([0, size, 2 * size])
        estimates = [estimate_jaccard(*signatures_of_shingles(np.concatenate([a, b]), offsets, 128, seed))
                     for seed in range(40)]
        assert abs(float(np.mean(estimates)) - true) < 0.04, (size, np.mean(estimates), true)


@given(st.lists(st.text(alphabet="ab cdÉé'’\n.,-1", max_size=60), min_size=1, max_size=6), st.integers(1, 6),
       st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_the_pipeline_path_equals_the_token_path(texts, k, seed):
    """``signatures_of_texts`` (what the pipeline runs) equals the signatures of the tokens."""
    ours = signatures_of_texts(texts, 32, k, seed)
    expected = compute_signatures([normalize_for_hash(t).split() for t in texts], num_perm=32, shingle_size=k, seed=seed)
    assert np.array_equal(ours, expected)


def test_unique_per_document_sorts_and_dedupes_each_document():
    hashes = np.array([5, 3, 5, 9, 1, 1, 7], dtype=np.uint32)
    values, offsets = unique_per_document(hashes, np.array([0, 4, 4, 7]))
    assert offsets.tolist() == [0, 3, 3, 5]
    assert values.tolist() == [3, 5, 9, 1, 7]
    some, some_offsets = unique_per_document(hashes, np.array([0, 4, 4, 7]), np.array([2]))
    assert some.tolist() == [1, 7] and some_offsets.tolist() == [0, 2]


def test_sketching_with_sequences_adds_the_shingles_in_text_order():
    from dedup.minhash import sketch_texts, sketch_texts_with_sequences

    texts = [TEXT, "", "Short one.", TEXT.upper() + " And more words, repeated: the the the the the the."]
    signatures, values, offsets, hashes, hash_offsets = sketch_texts_with_sequences(texts, 32, 5, 3)
    expected = sketch_texts(texts, 32, 5, 3)
    assert np.array_equal(signatures, expected[0]) and np.array_equal(values, expected[1])
    assert np.array_equal(offsets, expected[2])
    in_order = shingles_of_texts(texts, 5)
    assert np.array_equal(hashes, in_order[0]) and np.array_equal(hash_offsets, in_order[1])
    assert hash_offsets[-1] > offsets[-1]  # repeats kept
