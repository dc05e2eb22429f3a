"""Vectorised MinHash signatures, compatible with datasketch's ``affine32`` scheme.

A document's shingles are its word ``k``-grams (:func:`dedup.text.tokenize` tokens). Each
shingle is hashed to 32 bits by :func:`hash_shingle`: every token is hashed to 64 bits from
its UTF-8 bytes, then the ``k`` token hashes of a window are combined. All of it runs on
whole batches of documents at once with numpy (no per-token Python work), and every
permutation is applied to all shingles of a batch at once. The permutations are
datasketch's: for the same ``seed`` and ``num_perm``, ``datasketch.MinHash(num_perm, seed,
hashfunc=hash_shingle, scheme="affine32")`` updated with the same shingle strings holds the
same hash values.

The token hash is a polynomial hash of the token's bytes modulo 2**64, computed for all
tokens of a batch from one prefix sum (the polynomial's base is odd, so it has an inverse
modulo 2**64 and a token's hash is a difference of two prefix sums), then mixed with the
MurmurHash3 64-bit finaliser.

>>> import numpy as np
>>> sig = compute_signatures([["a", "b", "c", "d", "e", "f"]], num_perm=16, shingle_size=5, seed=1)
>>> sig.shape, sig.dtype
((1, 16), dtype('uint32'))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "MAX_HASH",
    "compute_signatures",
    "default_workers",
    "estimate_jaccard",
    "hash_shingle",
    "permutations",
    "process_pool",
    "shingle_hashes",
    "signatures_of_normalized",
    "signatures_of_row_groups",
    "signatures_of_texts",
    "split_shingles",
    "to_datasketch",
    "unique_shingles",
    "unique_shingles_of_texts",
]

MAX_HASH = np.uint32(0xFFFFFFFF)
_MASK64 = (1 << 64) - 1
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio): combines token hashes
_BASE = 0x100000001B3  # odd: the polynomial base of the token hash (the FNV-1 64-bit prime)
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_LENGTH_MIX = 0xC2B2AE3D27D4EB4F
_FMIX64 = (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
# Shingles per block of the permutation step: a (num_perm, block) uint32 block stays in cache.
_PERMUTE_BLOCK = 4096
# Documents hashed per numpy batch: keeps the byte-level arrays to a few MB.
_DOCS_PER_BATCH = 256
_powers: dict[int, np.ndarray] = {}


def _power_table(base: int, size: int) -> np.ndarray:
    """``base**i mod 2**64`` for ``i < size`` (cached, grown by doubling)."""
    table = _powers.get(base)
    if table is None or len(table) < size:
        n = max(size, 2 * len(table) if table is not None else 1 << 16)
        table = np.full(n, base, dtype=np.uint64)
        table[0] = 1
        np.cumprod(table, out=table)  # wraps modulo 2**64
        _powers[base] = table
    return table


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(_FMIX64[0])
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(_FMIX64[1])
    return h ^ (h >> np.uint64(33))


def _span_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """64-bit hashes of the byte spans ``data[starts[i]:ends[i]]`` (uint8 data, uint64 out).

    ``sum(b[k] * BASE**(end - k))`` for the span's bytes, from prefix sums of
    ``b[k] * BASE**-k``; then the span length is mixed in and the result finalised.
    """
    n = len(data)
    inverse = _power_table(_BASE_INVERSE, n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.multiply(data, inverse[:n], out=prefix[1:])
    np.cumsum(prefix, out=prefix)  # wraps modulo 2**64
    raw = (prefix[ends] - prefix[starts]) * _power_table(_BASE, n + 1)[ends]
    lengths = (ends - starts).astype(np.uint64)
    return _fmix64(raw ^ (lengths * np.uint64(_LENGTH_MIX)))


def _token_hash_scalar(token: bytes) -> int:
    h = 0
    for byte in token:  # Horner form of the same polynomial
        h = ((h + byte) * _BASE) & _MASK64
    h ^= (len(token) * _LENGTH_MIX) & _MASK64
    h ^= h >> 33
    h = (h * _FMIX64[0]) & _MASK64
    h ^= h >> 33
    h = (h * _FMIX64[1]) & _MASK64
    return h ^ (h >> 33)


def _token_hashes(tokens: Sequence[str]) -> np.ndarray:
    encoded = [t.encode("utf-8") for t in tokens]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    ends = np.cumsum(lengths)
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return _span_hashes(data, ends - lengths, ends)


def _combine(token_hashes: np.ndarray, shingle_size: int) -> np.ndarray:
    """32-bit hashes of all windows of ``shingle_size`` consecutive token hashes (uint64 in)."""
    n = len(token_hashes)
    width = min(shingle_size, n)
    count = n - width + 1
    acc = np.zeros(count, dtype=np.uint64)
    for j in range(width):
        acc = acc * _MULTIPLIER + token_hashes[j : j + count]
    return _fold(acc)


def _fold(acc: np.ndarray) -> np.ndarray:
    return ((acc ^ (acc >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def shingle_hashes(tokens: Sequence[str], shingle_size: int) -> np.ndarray:
    """32-bit hashes of the word shingles of one document, in order (uint32, may repeat).

    A document shorter than ``shingle_size`` tokens has one shingle, all its tokens; an empty
    one has none.
    """
    if not tokens:
        return np.empty(0, dtype=np.uint32)
    return _combine(_token_hashes(tokens), shingle_size)


def hash_shingle(shingle: str | bytes) -> int:
    """32-bit hash of one shingle given as its tokens joined by single spaces.

    This is the ``hashfunc`` to give ``datasketch.MinHash`` to reproduce our signatures.
    """
    if isinstance(shingle, str):
        shingle = shingle.encode("utf-8")
    acc = 0
    for token in shingle.split(b" "):
        acc = (acc * int(_MULTIPLIER) + _token_hash_scalar(token)) & _MASK64
    return (acc ^ (acc >> 32)) & 0xFFFFFFFF


def split_shingles(normalized: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many documents at once, each given as its tokens joined by single spaces
    (the form :func:`dedup.text.normalize_for_hash` returns).

    Returns:
        ``(hashes, offsets)``: uint32 shingle hashes of all documents one after the other, and
        int64 ``offsets`` of length ``len(normalized) + 1``; document ``i`` owns
        ``hashes[offsets[i]:offsets[i + 1]]``, equal to :func:`shingle_hashes` of its tokens.
    """
    n_docs = len(normalized)
    data = np.frombuffer("\x00".join(normalized).encode("utf-8"), dtype=np.uint8)
    # Tokens are the non-empty runs between separators: spaces, and NULs between documents
    # (neither occurs inside a token).
    is_break = data == 0
    is_sep = is_break | (data == 32)
    bounds = np.concatenate(([-1], np.flatnonzero(is_sep), [len(data)]))
    starts, ends = bounds[:-1] + 1, bounds[1:]
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    doc_of_token = np.cumsum(is_break)[starts] if len(starts) else np.empty(0, dtype=np.int64)
    per_doc = np.bincount(doc_of_token, minlength=n_docs)
    token_offsets = np.concatenate(([0], np.cumsum(per_doc)))
    hashes = _span_hashes(data, starts, ends)
    # Window j starts at token j; it is whole when it ends inside its document.
    k = shingle_size
    doc_end = token_offsets[1:][doc_of_token]
    full = np.flatnonzero(np.arange(len(starts)) + k <= doc_end)
    acc = np.zeros(len(full), dtype=np.uint64)
    for j in range(k):
        acc = acc * _MULTIPLIER + hashes[full + j]
    counts = np.maximum(per_doc - k + 1, 0)
    shingles = _fold(acc)
    short = np.flatnonzero((per_doc > 0) & (per_doc < k))
    if len(short):
        # A document shorter than k tokens has one shingle of all its tokens.
        counts[short] = 1
        pieces = np.split(shingles, np.cumsum(np.maximum(per_doc - k + 1, 0))[:-1])
        for d in short.tolist():
            pieces[d] = _combine(hashes[token_offsets[d] : token_offsets[d + 1]], k)
        shingles = np.concatenate(pieces) if pieces else shingles
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return shingles, offsets


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


def _minhash(hashes: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signatures of documents whose shingle hashes are ``hashes[offsets[i]:offsets[i+1]]``.

    Works on blocks of whole documents of about ``_PERMUTE_BLOCK`` shingles, laid out
    permutation-major so that the minimum of each document is a reduction over contiguous
    memory.
    """
    n_docs = len(offsets) - 1
    num_perm = len(a)
    out = np.full((n_docs, num_perm), MAX_HASH, dtype=np.uint32)
    mixed = _fmix32(hashes)
    a_col, b_col = a[:, None], b[:, None]
    buffer = np.empty((num_perm, _PERMUTE_BLOCK), dtype=np.uint32)
    first = 0
    while first < n_docs:
        last = int(np.searchsorted(offsets, offsets[first] + _PERMUTE_BLOCK, side="right")) - 1
        last = min(max(last, first + 1), n_docs)
        lo, hi = int(offsets[first]), int(offsets[last])
        docs = np.arange(first, last)
        docs = docs[offsets[docs + 1] > offsets[docs]]
        if len(docs):
            size = hi - lo
            block = buffer[:, :size] if size <= _PERMUTE_BLOCK else np.empty((num_perm, size), dtype=np.uint32)
            np.multiply(a_col, mixed[None, lo:hi], out=block)
            np.add(block, b_col, out=block)
            out[docs] = np.minimum.reduceat(block, offsets[docs] - lo, axis=1).T
        first = last
    return out


def signatures_of_normalized(
    normalized: Sequence[str], *, num_perm: int = 128, shingle_size: int = 5, seed: int = 1
) -> np.ndarray:
    """MinHash signatures of documents given as space-joined tokens (see :func:`split_shingles`).

    Equal to :func:`compute_signatures` of the documents' token lists, without building them.
    """
    a, b = permutations(num_perm, seed)
    out = np.empty((len(normalized), num_perm), dtype=np.uint32)
    for first in range(0, len(normalized), _DOCS_PER_BATCH):
        hashes, offsets = split_shingles(normalized[first : first + _DOCS_PER_BATCH], shingle_size)
        out[first : first + _DOCS_PER_BATCH] = _minhash(hashes, offsets, a, b)
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
        batch_shingles: shingles hashed per batch; bounds memory to about
            ``batch_shingles * 16`` bytes besides the output.

    Returns:
        ``uint32`` array of shape ``(len(documents), num_perm)``; a document without tokens
        gets all ``MAX_HASH`` (datasketch's empty MinHash).
    """
    a, b = permutations(num_perm, seed)
    out = np.empty((len(documents), num_perm), dtype=np.uint32)
    batch: list[np.ndarray] = []
    start = size = 0

    def flush(stop: int) -> None:
        lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        flat = np.concatenate(batch) if batch else np.empty(0, dtype=np.uint32)
        out[start:stop] = _minhash(flat, offsets, a, b)

    for i, tokens in enumerate(documents):
        hashes = shingle_hashes(tokens, shingle_size)
        batch.append(hashes)
        size += len(hashes)
        if size >= batch_shingles:
            flush(i + 1)
            batch, start, size = [], i + 1, 0
    if batch:
        flush(len(documents))
    return out


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of equal positions: the MinHash estimate of the Jaccard similarity."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


def to_datasketch(signature: np.ndarray, seed: int):  # type: ignore[no-untyped-def]
    """A ``datasketch.MinHash`` holding ``signature`` (for use with datasketch's LSH tools)."""
    from datasketch import MinHash

    return MinHash(seed=seed, hashvalues=signature, scheme="affine32", hashfunc=hash_shingle)


def unique_shingles(normalized: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique shingle hashes of each document (given as by :func:`split_shingles`).

    Returns:
        ``(values, offsets)``: document ``i``'s set is ``values[offsets[i]:offsets[i + 1]]``.
    """
    parts, counts = [], []
    for first in range(0, len(normalized), _DOCS_PER_BATCH):
        batch = normalized[first : first + _DOCS_PER_BATCH]
        hashes, offsets = split_shingles(batch, shingle_size)
        doc = np.repeat(np.arange(len(batch), dtype=np.uint64), np.diff(offsets))
        keys = np.sort((doc << np.uint64(32)) | hashes.astype(np.uint64))
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
        parts.append((keys & np.uint64(0xFFFFFFFF)).astype(np.uint32))
        counts.append(np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=len(batch)))
    values = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint32)
    sizes = np.concatenate(counts) if counts else np.empty(0, dtype=np.int64)
    return values, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def signatures_of_texts(texts: Sequence[str], num_perm: int, shingle_size: int, seed: int) -> np.ndarray:
    """Signatures of raw texts (normalised with :func:`dedup.text.normalize_for_hash` first)."""
    from dedup.text import normalize_for_hash

    return signatures_of_normalized(
        [normalize_for_hash(t) for t in texts], num_perm=num_perm, shingle_size=shingle_size, seed=seed
    )


def unique_shingles_of_texts(texts: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unique_shingles` of raw texts (normalised with :func:`dedup.text.normalize_for_hash`)."""
    from dedup.text import normalize_for_hash

    return unique_shingles([normalize_for_hash(t) for t in texts], shingle_size)


def signatures_of_row_groups(
    path: str, row_groups: Sequence[int], column: str, num_perm: int, shingle_size: int, seed: int
) -> np.ndarray:
    """Signatures of the texts in ``column`` of some row groups of a Parquet file (a unit of
    parallel work: the worker reads its own rows, nothing large crosses processes)."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read_row_groups(list(row_groups), columns=[column])
    return signatures_of_texts(table.column(column).to_pylist(), num_perm, shingle_size, seed)


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on, or 1 (work in this
    process) when the calling program cannot be re-imported by a fresh worker process, as
    for code read from standard input or given with ``python -c``."""
    import os
    import sys

    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is not None and not os.path.isfile(main_file):
        return 1
    if main_file is None and sys.argv and sys.argv[0] in ("-", "-c"):
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def process_pool(workers: int):  # type: ignore[no-untyped-def]
    """A process pool whose workers start fresh (``spawn``): safe inside threaded hosts."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
