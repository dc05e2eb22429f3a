from __future__ import annotations

import numpy as np
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.minhash import MAX_HASH, compute_signatures, estimate_jaccard, hash_shingle, to_datasketch
from dedup.text import tokenize

TEXT = (
    "The committee approved the budget on Monday after a long debate about school funding, "
    "road repairs and the cost of the new library in the town centre."
)


def datasketch_signature(tokens, num_perm, k, seed):
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=hash_shingle)
    for i in range(max(1, len(tokens) - k + 1)):
        m.update(" ".join(tokens[i : i + k]))
    return m.hashvalues


@given(
    st.lists(st.sampled_from(["a", "b", "c", "dd", "e1", "ß", "naïve"]), min_size=1, max_size=40),
    st.integers(1, 6),
    st.integers(0, 2**31),
)
@settings(max_examples=40, deadline=None)
def test_signatures_equal_datasketch(tokens, k, seed):
    ours = compute_signatures([tokens], num_perm=32, shingle_size=k, seed=seed)[0]
    assert np.array_equal(ours, datasketch_signature(tokens, 32, k, seed))


def test_empty_document_is_datasketch_empty_minhash():
    sig = compute_signatures([[]], num_perm=16)
    assert (sig == MAX_HASH).all()
    assert to_datasketch(sig[0], seed=1).is_empty()


def test_batching_does_not_change_signatures():
    docs = [tokenize(TEXT)[i:] for i in range(10)]
    whole = compute_signatures(docs, num_perm=64)
    small_batches = compute_signatures(docs, num_perm=64, batch_shingles=7)
    assert np.array_equal(whole, small_batches)


def test_seed_changes_signatures_and_estimate_tracks_jaccard():
    a = tokenize(TEXT)
    b = [*a[:-6], "and", "a", "new", "swimming", "pool", "too"]
    sigs = compute_signatures([a, b], num_perm=256, shingle_size=3, seed=5)
    assert not np.array_equal(sigs, compute_signatures([a, b], num_perm=256, shingle_size=3, seed=6))
    shingles = [{tuple(t[i : i + 3]) for i in range(len(t) - 2)} for t in (a, b)]
    true = len(shingles[0] & shingles[1]) / len(shingles[0] | shingles[1])
    assert abs(estimate_jaccard(sigs[0], sigs[1]) - true) < 0.12


@given(st.lists(st.text(alphabet="ab cdÉé'’\n.,-1", max_size=60), min_size=1, max_size=6), st.integers(1, 6),
       st.integers(0, 2**31))
@settings(max_examples=40)
def test_the_pipeline_path_equals_datasketch(texts, k, seed):
    """``signatures_of_texts`` (what the pipeline runs) against datasketch on the same shingles."""
    from dedup.minhash import signatures_of_texts
    from dedup.text import normalize_for_hash

    ours = signatures_of_texts(texts, 32, k, seed)
    for text, signature in zip(texts, ours, strict=True):
        tokens = normalize_for_hash(text).split()
        expected = datasketch_signature(tokens, 32, k, seed) if tokens else MinHash(num_perm=32, seed=seed).hashvalues
        assert np.array_equal(signature, expected)
