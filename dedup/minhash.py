"""Vectorised MinHash signatures, compatible with datasketch's ``affine32`` scheme.

A document's shingles are its word ``k``-grams (:func:`dedup.text.tokenize` tokens). Each
shingle is hashed to 32 bits by :func:`hash_shingle` (a hash of per-token 64-bit BLAKE2b
hashes, so each distinct token is hashed once), then every permutation is applied to all
shingles of a batch at once with numpy. The permutations are datasketch's: for the same
``seed`` and ``num_perm``, ``datasketch.MinHash(num_perm, seed, hashfunc=hash_shingle,
scheme="affine32")`` updated with the same shingle strings holds the same hash values.

>>> import numpy as np
>>> sig = compute_signatures([["a", "b", "c", "d", "e", "f"]], num_perm=16, shingle_size=5, seed=1)
>>> sig.shape, sig.dtype
((1, 16), dtype('uint32'))
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = [
    "MAX_HASH",
    "compute_signatures",
    "estimate_jaccard",
    "hash_shingle",
    "permutations",
    "shingle_hashes",
    "to_datasketch",
]

MAX_HASH = np.uint32(0xFFFFFFFF)
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio)
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_token_cache: dict[str, int] = {}
_TOKEN_CACHE_LIMIT = 4_000_000


def _token_hash(token: str) -> int:
    value = _token_cache.get(token)
    if value is None:
        if len(_token_cache) >= _TOKEN_CACHE_LIMIT:
            _token_cache.clear()
        value = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
        _token_cache[token] = value
    return value


def _combine(token_hashes: np.ndarray, shingle_size: int) -> np.ndarray:
    """32-bit hashes of all windows of ``shingle_size`` consecutive token hashes (uint64 in)."""
    n = len(token_hashes)
    width = min(shingle_size, n)
    count = n - width + 1
    acc = np.zeros(count, dtype=np.uint64)
    for j in range(width):
        acc = acc * _MULTIPLIER + token_hashes[j : j + count]
    return ((acc ^ (acc >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def shingle_hashes(tokens: Sequence[str], shingle_size: int) -> np.ndarray:
    """32-bit hashes of the word shingles of one document, in order (uint32, may repeat).

    A document shorter than ``shingle_size`` tokens has one shingle, all its tokens; an empty
    one has none.
    """
    if not tokens:
        return np.empty(0, dtype=np.uint32)
    hashes = np.fromiter((_token_hash(t) for t in tokens), dtype=np.uint64, count=len(tokens))
    return _combine(hashes, shingle_size)


def hash_shingle(shingle: str | bytes) -> int:
    """32-bit hash of one shingle given as its tokens joined by single spaces.

    This is the ``hashfunc`` to give ``datasketch.MinHash`` to reproduce our signatures.
    """
    if isinstance(shingle, bytes):
        shingle = shingle.decode("utf-8")
    tokens = shingle.split(" ")
    return int(_combine(np.array([_token_hash(t) for t in tokens], dtype=np.uint64), len(tokens))[0])


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` parameters of datasketch's ``affine32`` permutations for ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def _minhash_batch(hashes: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full((len(hashes), len(a)), MAX_HASH, dtype=np.uint32)
    lengths = np.fromiter((len(h) for h in hashes), dtype=np.int64, count=len(hashes))
    nonempty = np.flatnonzero(lengths)
    if len(nonempty) == 0:
        return out
    flat = _fmix32(np.concatenate([hashes[i] for i in nonempty]))
    starts = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
    permuted = flat[:, None] * a[None, :] + b[None, :]
    out[nonempty] = np.minimum.reduceat(permuted, starts, axis=0)
    return out


def compute_signatures(
    documents: Sequence[Sequence[str]],
    *,
    num_perm: int = 128,
    shingle_size: int = 5,
    seed: int = 1,
    batch_shingles: int = 200_000,
) -> np.ndarray:
    """MinHash signatures of tokenised documents.

    Args:
        documents: each document's tokens.
        num_perm: number of permutations (signature length).
        shingle_size: words per shingle.
        seed: permutation seed (datasketch's ``seed``).
        batch_shingles: shingles hashed per numpy batch; bounds memory to about
            ``batch_shingles * num_perm * 4`` bytes.

    Returns:
        ``uint32`` array of shape ``(len(documents), num_perm)``; a document without tokens
        gets all ``MAX_HASH`` (datasketch's empty MinHash).
    """
    a, b = permutations(num_perm, seed)
    out = np.empty((len(documents), num_perm), dtype=np.uint32)
    batch: list[np.ndarray] = []
    start = size = 0
    for i, tokens in enumerate(documents):
        hashes = shingle_hashes(tokens, shingle_size)
        batch.append(hashes)
        size += len(hashes)
        if size >= batch_shingles:
            out[start : i + 1] = _minhash_batch(batch, a, b)
            batch, start, size = [], i + 1, 0
    if batch:
        out[start:] = _minhash_batch(batch, a, b)
    return out


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of equal positions: the MinHash estimate of the Jaccard similarity."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


def to_datasketch(signature: np.ndarray, seed: int):  # type: ignore[no-untyped-def]
    """A ``datasketch.MinHash`` holding ``signature`` (for use with datasketch's LSH tools)."""
    from datasketch import MinHash

    return MinHash(seed=seed, hashvalues=signature, scheme="affine32", hashfunc=hash_shingle)
