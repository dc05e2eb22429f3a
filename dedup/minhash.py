"""Vectorised shingling and one-permutation MinHash signatures.

A document's shingles are its word ``k``-grams, the tokens being those of
:func:`dedup.text.normalize_for_hash`. Each shingle is hashed to 32 bits: every token is
hashed to 64 bits from its UTF-8 bytes, then the ``k`` token hashes of a window are
combined (:func:`hash_shingle` is the same hash for one shingle given as a string). All of
it runs on whole batches of documents at once with numpy, with no per-token Python work:
an ASCII text is tokenised on its bytes directly (word bytes, apostrophes between two of
them, A-Z lower-cased), which gives exactly the tokens of ``normalize_for_hash``; so is a
text whose only non-ASCII characters are common typographic ones (curly quotes, dashes,
no-break spaces), once they are replaced in place; any other text is normalised with
``normalize_for_hash`` first.

The signature is a one-permutation MinHash (``scheme "oph32"``): each shingle hash ``h`` is
mixed into ``m = fmix32(h ^ salt)``; ``m`` picks one of ``num_perm`` bins by its high bits
(``m * num_perm >> 32``), and each bin keeps the smallest ``m`` it receives. A bin that
receives nothing borrows the value of the first filled bin along a probe sequence of its
own (optimal densification, Shrivastava 2017), so two documents agree in a bin with
probability equal to their Jaccard similarity, as with ``num_perm`` independent
permutations, at the cost of one hash per shingle instead of ``num_perm``. The salt and
the probe sequence follow from ``seed`` (SplitMix64), so signatures are deterministic.

>>> sig = compute_signatures([["a", "b", "c", "d", "e", "f"]], num_perm=16, shingle_size=5, seed=1)
>>> sig.shape, sig.dtype
((1, 16), dtype('uint32'))
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

__all__ = [
    "MAX_HASH",
    "SCHEME",
    "SHINGLE_SETS",
    "ShingleSetsWriter",
    "compute_signatures",
    "copy_spans",
    "default_workers",
    "estimate_jaccard",
    "even_runs",
    "hash_shingle",
    "in_order",
    "length_chunks",
    "padded_rows",
    "process_pool",
    "read_shingles",
    "shared_workers",
    "shingle_hashes",
    "shingles_of_texts",
    "signatures_of_normalized",
    "signatures_of_shingles",
    "signatures_of_texts",
    "sketch_row_groups",
    "sketch_texts",
    "sketch_texts_with_sequences",
    "split_shingles",
    "unique_per_document",
    "unique_shingles",
    "unique_shingles_of_texts",
    "write_shingles",
]

SCHEME = "oph32"
#: The work file of the signatures stage holding every document's exact shingle set.
SHINGLE_SETS = "shingle_sets.arrow"
MAX_HASH = np.uint32(0xFFFFFFFF)
_MASK64 = (1 << 64) - 1
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio): combines token hashes
_BASE = 0x100000001B3  # odd: the polynomial base of the token hash (the FNV-1 64-bit prime)
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_LENGTH_MIX = 0xC2B2AE3D27D4EB4F
_FMIX64 = (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
# Documents hashed per numpy batch: keeps the byte-level arrays to a few MB.
_DOCS_PER_BATCH = 512
# Probe steps before a bin falls back to the next filled bin to its right.
_MAX_PROBES = 64
# Bytes of word characters (of lower-cased or normalised text): ASCII letters, digits,
# underscore, and every byte of a non-ASCII character (only word characters are left of
# those in a normalised text).
_WORD = np.zeros(256, dtype=bool)
for _lo, _hi in ((48, 57), (65, 90), (97, 122), (95, 95), (128, 255)):
    _WORD[_lo : _hi + 1] = True
_APOSTROPHE = 39
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
    """32-bit hash of one shingle given as its tokens joined by single spaces (the value
    :func:`shingle_hashes` gives its window)."""
    if isinstance(shingle, str):
        shingle = shingle.encode("utf-8")
    acc = 0
    for token in shingle.split(b" "):
        acc = (acc * int(_MULTIPLIER) + _token_hash_scalar(token)) & _MASK64
    return (acc ^ (acc >> 32)) & 0xFFFFFFFF


def _token_bytes(texts: Sequence[str], normalized: bool) -> tuple[np.ndarray, np.ndarray]:
    """The texts' bytes one after the other, separated by a space, and each text's first byte.

    Each text is prepared by :func:`_lower_ascii`, unless ``normalized`` says that all texts
    are already as :func:`dedup.text.normalize_for_hash` returns them.
    """
    prepare = str if normalized else _lower_ascii
    encoded = [prepare(t).encode("utf-8") for t in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)) + 1
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    return np.frombuffer(b" ".join(encoded), dtype=np.uint8), starts


# Non-ASCII characters common in news text, each replaced by an ASCII one that the tokeniser
# splits the same way as ``normalize_for_hash`` does with the original: typographic
# apostrophes by an apostrophe, the others (no word characters, unchanged by NFKC but
# for the no-break space and the ellipsis, which become spaces and dots) by a space.
_ASCII_STANDINS = (
    ("\u2019", "'"), ("\u2018", "'"), ("\u201c", " "), ("\u201d", " "), ("\u00ab", " "), ("\u00bb", " "),
    ("\u2014", " "), ("\u2013", " "), ("\u00a0", " "), ("\u2026", " "),
)


def _lower_ascii(text: str) -> str:
    """The text in a form the byte tokeniser reads as ``normalize_for_hash`` would: lower-cased
    when it is ASCII, or becomes ASCII once the characters of ``_ASCII_STANDINS`` are replaced;
    otherwise ``normalize_for_hash`` itself."""
    from dedup.text import normalize_for_hash

    if text.isascii():
        return text.lower()
    plain = text
    for old, new in _ASCII_STANDINS:
        if old in plain:
            plain = plain.replace(old, new)
    return plain.lower() if plain.isascii() else normalize_for_hash(text)


def _tokens_of_bytes(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the tokens in ``data``: runs of word bytes, an apostrophe between
    two word bytes included (the tokens of ``normalize_for_hash``'s ``\\w+(?:'\\w+)*``)."""
    word = _WORD[data]
    token = word.copy()
    if len(data) > 2:
        token[1:-1] |= (data[1:-1] == _APOSTROPHE) & word[:-2] & word[2:]
    padded = np.zeros(len(data) + 2, dtype=bool)
    padded[1:-1] = token
    changes = np.flatnonzero(padded[1:] != padded[:-1])  # a token's start, then its end
    return changes[0::2], changes[1::2]


def shingles_of_texts(
    texts: Sequence[str], shingle_size: int, *, normalized: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many texts at once.

    Args:
        texts: raw texts, or with ``normalized`` texts already given by
            :func:`dedup.text.normalize_for_hash` (tokens joined by single spaces).

    Returns:
        ``(hashes, offsets)``: uint32 shingle hashes of all texts one after the other, and
        int64 ``offsets`` of length ``len(texts) + 1``; text ``i`` owns
        ``hashes[offsets[i]:offsets[i + 1]]``, equal to :func:`shingle_hashes` of its tokens.
    """
    parts = [_shingles_of_batch(texts[first : first + _DOCS_PER_BATCH], shingle_size, normalized)
             for first in range(0, len(texts), _DOCS_PER_BATCH)]
    if len(parts) == 1:
        return parts[0]
    hashes = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype=np.uint32)
    sizes = np.concatenate([np.diff(p[1]) for p in parts]) if parts else np.empty(0, dtype=np.int64)
    return hashes, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def _shingles_of_batch(texts: Sequence[str], shingle_size: int, normalized: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingles_of_texts` of one batch of texts (all their bytes in one array)."""
    data, doc_starts = _token_bytes(texts, normalized)
    starts, ends = _tokens_of_bytes(data)
    per_doc = np.diff(np.searchsorted(starts, doc_starts), append=len(starts))
    return _windows(_span_hashes(data, starts, ends), per_doc, shingle_size)


def _windows(hashes: np.ndarray, per_doc: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes from the token hashes of documents one after the other, ``per_doc``
    tokens each (see :func:`shingles_of_texts`)."""
    token_offsets = np.concatenate(([0], np.cumsum(per_doc)))
    # Window j starts at token j; it is whole when it ends inside its document.
    doc_end = np.repeat(token_offsets[1:], per_doc)
    count = max(len(hashes) - k + 1, 0)
    acc = np.zeros(count, dtype=np.uint64)
    for j in range(k):
        np.multiply(acc, _MULTIPLIER, out=acc)
        np.add(acc, hashes[j : j + count], out=acc)
    acc = acc[np.flatnonzero(np.arange(count) + k <= doc_end[:count])]
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


def split_shingles(normalized: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingles_of_texts` of texts given as :func:`dedup.text.normalize_for_hash` returns."""
    return shingles_of_texts(normalized, shingle_size, normalized=True)


def _splitmix64(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def _salts(seed: int) -> tuple[np.uint32, np.uint32]:
    """The value salt and the probe salt of ``seed``."""
    state, first = _splitmix64(seed & _MASK64)
    _, second = _splitmix64(state)
    return np.uint32(first & 0xFFFFFFFF), np.uint32(second & 0xFFFFFFFF)


def _fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def _bin_of(m: np.ndarray, num_perm: int) -> np.ndarray:
    return ((m.astype(np.uint64) * np.uint64(num_perm)) >> np.uint64(32)).astype(np.int64)


def _probe(bins: np.ndarray, step: int, salt: np.uint32, num_perm: int) -> np.ndarray:
    """Bin visited at ``step`` by the probe sequence of each bin in ``bins`` (the same for every document)."""
    key = bins.astype(np.uint32) * np.uint32(0x9E3779B1) + np.uint32((step * 0x85EBCA77) & 0xFFFFFFFF)
    return _bin_of(_fmix32(key ^ salt), num_perm)


def signatures_of_shingles(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """One-permutation MinHash signatures of documents whose shingle hashes are
    ``hashes[offsets[i]:offsets[i + 1]]`` (``uint32``, shape ``(n, num_perm)``).

    A document without shingles gets all ``MAX_HASH``.
    """
    n_docs = len(offsets) - 1
    value_salt, probe_salt = _salts(seed)
    mixed = _fmix32(np.asarray(hashes, dtype=np.uint32) ^ value_salt)
    sizes = np.diff(offsets)
    cell = np.repeat(np.arange(n_docs, dtype=np.int64) * num_perm, sizes) + _bin_of(mixed, num_perm)
    out = np.full(n_docs * num_perm, MAX_HASH, dtype=np.uint32)
    np.minimum.at(out, cell, mixed)
    filled = np.zeros(n_docs * num_perm, dtype=bool)
    filled[cell] = True
    _densify(out, filled, sizes > 0, num_perm, probe_salt)
    return out.reshape(n_docs, num_perm)


def _densify(out: np.ndarray, filled: np.ndarray, has_shingles: np.ndarray, num_perm: int, salt: np.uint32) -> None:
    """Give each empty bin of a document with shingles the value of the first filled bin of its
    probe sequence (after ``_MAX_PROBES`` steps: the next filled bin to its right)."""
    empty = ~filled.reshape(-1, num_perm)
    empty[~has_shingles] = False
    docs, bins = np.nonzero(empty)
    base = docs * num_perm
    for step in range(1, _MAX_PROBES + 1):
        if not len(bins):
            return
        source = base + _probe(bins, step, salt, num_perm)
        hit = filled[source]
        out[base[hit] + bins[hit]] = out[source[hit]]
        base, bins = base[~hit], bins[~hit]
    for b, j in zip(base.tolist(), bins.tolist(), strict=True):
        row = filled[b : b + num_perm]
        k = next(k for k in range(1, num_perm) if row[(j + k) % num_perm])
        out[b + j] = out[b + (j + k) % num_perm]


def signatures_of_normalized(
    normalized: Sequence[str], *, num_perm: int = 128, shingle_size: int = 5, seed: int = 1
) -> np.ndarray:
    """Signatures of documents given as space-joined tokens (see :func:`split_shingles`).

    Equal to :func:`compute_signatures` of the documents' token lists, without building them.
    """
    return _sketch(normalized, num_perm, shingle_size, seed, normalized=True)[0]


def _sketch(
    texts: Sequence[str], num_perm: int, shingle_size: int, seed: int, *, normalized: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signatures, shingle hashes and their offsets of texts, in batches of documents."""
    sigs, parts, sizes = [], [], []
    for first in range(0, len(texts), _DOCS_PER_BATCH):
        hashes, offsets = _shingles_of_batch(texts[first : first + _DOCS_PER_BATCH], shingle_size, normalized)
        sigs.append(signatures_of_shingles(hashes, offsets, num_perm, seed))
        parts.append(hashes)
        sizes.append(np.diff(offsets))
    if not sigs:
        return np.empty((0, num_perm), dtype=np.uint32), np.empty(0, dtype=np.uint32), np.zeros(1, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(np.concatenate(sizes)))).astype(np.int64)
    return np.concatenate(sigs), np.concatenate(parts), offsets


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
        num_perm: number of bins (signature length).
        shingle_size: words per shingle.
        seed: seed of the hash salt and of the densification probes.
        batch_shingles: shingles hashed per batch; bounds memory to about
            ``batch_shingles * 16`` bytes besides the output.

    Returns:
        ``uint32`` array of shape ``(len(documents), num_perm)``; a document without tokens
        gets all ``MAX_HASH``.
    """
    out = np.empty((len(documents), num_perm), dtype=np.uint32)
    batch: list[np.ndarray] = []
    start = size = 0

    def flush(stop: int) -> None:
        lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        flat = np.concatenate(batch) if batch else np.empty(0, dtype=np.uint32)
        out[start:stop] = signatures_of_shingles(flat, offsets, num_perm, seed)

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


def padded_rows(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """``values[starts[r]:starts[r] + lengths[r]]`` as row ``r`` of a ``(len(starts), width)``
    uint32 array, filled up with ``MAX_HASH``."""
    out = np.full((len(starts), width), MAX_HASH, dtype=np.uint32)
    copy_spans(values, starts, lengths, out.reshape(-1), np.arange(len(starts), dtype=np.int64) * width)
    return out


def copy_spans(source: np.ndarray, starts: np.ndarray, lengths: np.ndarray, target: np.ndarray,
               target_starts: np.ndarray) -> None:
    """``target[target_starts[i]:][:lengths[i]] = source[starts[i]:][:lengths[i]]`` for every ``i``."""
    rank = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    target[np.repeat(target_starts, lengths) + rank] = source[np.repeat(starts, lengths) + rank]


def length_chunks(lengths: np.ndarray, budget: int = 1 << 20) -> list[np.ndarray]:
    """Positions of ``lengths`` from short to long, cut into chunks of at most ``budget``
    cells once each chunk is padded to its longest member (at least one position each)."""
    order = np.argsort(lengths, kind="stable")
    ordered = np.maximum(lengths[order], 1)
    chunks, first, n = [], 0, len(order)
    while first < n:
        stops = np.arange(first + 1, min(n, first + budget) + 1)
        cells = (stops - first) * ordered[stops - 1]
        stop = first + max(1, int(np.searchsorted(cells, budget, side="right")))
        chunks.append(order[first:stop])
        first = stop
    return chunks


def unique_per_document(
    hashes: np.ndarray, offsets: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique shingle hashes of documents ``rows`` (all when ``None``) of a flat
    ``(hashes, offsets)`` layout.

    Documents of similar length are sorted together as the rows of one padded 2-D array
    (a row sort of 32-bit values, much faster than one sort of tagged 64-bit values).

    Returns:
        ``(values, offsets)``: the ``r``-th document's set is ``values[offsets[r]:offsets[r + 1]]``.
    """
    rows = np.arange(len(offsets) - 1, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
    hashes = np.asarray(hashes, dtype=np.uint32)
    counts = np.zeros(len(rows), dtype=np.int64)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    for chunk in length_chunks(lengths):
        width = max(int(lengths[chunk].max()), 1)
        block = padded_rows(hashes, starts[chunk], lengths[chunk], width)
        block.sort(axis=1)
        keep = np.ones(block.shape, dtype=bool)
        keep[:, 1:] = block[:, 1:] != block[:, :-1]
        keep &= np.arange(width)[None, :] < lengths[chunk][:, None]
        counts[chunk] = np.count_nonzero(keep, axis=1)
        pieces.append((chunk, block[keep]))
    new_offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    values = np.empty(int(new_offsets[-1]), dtype=np.uint32)
    for chunk, kept in pieces:
        sizes = counts[chunk]
        copy_spans(kept, np.cumsum(sizes) - sizes, sizes, values, new_offsets[chunk])
    return values, new_offsets


def unique_shingles(normalized: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique shingle hashes of each document (given as by :func:`split_shingles`).

    Returns:
        ``(values, offsets)``: document ``i``'s set is ``values[offsets[i]:offsets[i + 1]]``.
    """
    return unique_per_document(*split_shingles(normalized, shingle_size))


def signatures_of_texts(texts: Sequence[str], num_perm: int, shingle_size: int, seed: int) -> np.ndarray:
    """Signatures of raw texts (tokens of :func:`dedup.text.normalize_for_hash`)."""
    return _sketch(texts, num_perm, shingle_size, seed, normalized=False)[0]


def unique_shingles_of_texts(texts: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unique_shingles` of raw texts (tokens of :func:`dedup.text.normalize_for_hash`)."""
    return unique_per_document(*shingles_of_texts(texts, shingle_size))


def sketch_row_groups(
    path: str, row_groups: Sequence[int], num_perm: int, shingle_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signatures and exact shingle sets (sorted unique hashes: ``values``, ``offsets`` as by
    :func:`unique_per_document`) of the articles of some row groups of a documents file, each
    its :func:`dedup.text.copy_text` (a unit of parallel work: the worker reads its own rows)."""
    import pyarrow.parquet as pq

    from dedup.text import copy_texts

    table = pq.ParquetFile(path).read_row_groups(list(row_groups), columns=["title", "text"])
    texts = copy_texts(table.column("title").to_pylist(), table.column("text").to_pylist())
    return sketch_texts(texts, num_perm, shingle_size, seed)


def sketch_texts(
    texts: Sequence[str], num_perm: int, shingle_size: int, seed: int, *, normalized: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signatures and exact shingle sets of texts (raw, or as :func:`shingles_of_texts` takes
    them with ``normalized``): ``(signatures, values, offsets)``, the sets as by
    :func:`unique_per_document`."""
    signatures, hashes, offsets = _sketch(texts, num_perm, shingle_size, seed, normalized=normalized)
    return (signatures, *unique_per_document(hashes, offsets))


def sketch_texts_with_sequences(
    texts: Sequence[str], num_perm: int, shingle_size: int, seed: int, *, normalized: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`sketch_texts`, and each text's shingle hashes in text order (repeats kept, as
    :func:`shingles_of_texts` gives them): ``(signatures, values, offsets, hashes, hash_offsets)``."""
    signatures, hashes, offsets = _sketch(texts, num_perm, shingle_size, seed, normalized=normalized)
    return (signatures, *unique_per_document(hashes, offsets), hashes, offsets)


def write_shingles(path: Path, content_hashes: object, hashes: np.ndarray, offsets: np.ndarray,
                   shingle_size: int) -> None:
    """Store each document's shingle set (``hashes[offsets[i]:offsets[i + 1]]``) next to its
    content hash, as an uncompressed Arrow IPC file (see :class:`ShingleSetsWriter`)."""
    with ShingleSetsWriter(path, shingle_size) as writer:
        writer.write(content_hashes, hashes, offsets)


class ShingleSetsWriter:
    """Writes the file of the documents' shingle sets a batch of documents at a time: each
    document's set next to its content hash, as an uncompressed Arrow IPC file (read back by
    :func:`read_shingles`). The content hash identifies the normalised text the shingles come
    from, so a reader can check that the file belongs to its documents.

    The file is written under a temporary name and takes ``path`` when the writer is closed
    without error.
    """

    def __init__(self, path: Path, shingle_size: int) -> None:
        import pyarrow as pa

        self.path, self.tmp = path, path.with_name(f".{path.name}.tmp")
        self.schema = pa.schema([("content_hash", pa.string()), ("shingles", pa.large_list(pa.uint32()))],
                                metadata={"shingle_size": str(shingle_size)})
        self.sink = pa.OSFile(str(self.tmp), "wb")
        self.writer = pa.ipc.new_file(self.sink, self.schema)

    def write(self, content_hashes: object, hashes: np.ndarray, offsets: np.ndarray) -> None:
        """Append documents: the ``i``-th has content hash ``content_hashes[i]`` and shingle set
        ``hashes[offsets[i]:offsets[i + 1]]``."""
        import pyarrow as pa

        lists = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), pa.array(hashes, type=pa.uint32()))
        self.writer.write_table(pa.table({"content_hash": content_hashes, "shingles": lists}, schema=self.schema))

    def __enter__(self) -> ShingleSetsWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        import os

        self.writer.close()
        self.sink.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def read_shingles(path: Path, content_hashes: object, shingle_size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The ``(hashes, offsets)`` that :class:`ShingleSetsWriter` stored, or ``None`` when there
    is no such file or it was made for other documents or another shingle size.

    The sets are copied into one array a batch at a time, each batch's pages of the file
    mapped only while it is copied.
    """
    import pyarrow as pa

    if not path.exists():
        return None
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()  # mapped, not read: only what is looked at is
    if (table.schema.metadata or {}).get(b"shingle_size") != str(shingle_size).encode():
        return None
    if not table.column("content_hash").equals(pa.chunked_array(content_hashes)):  # type: ignore[call-overload]
        return None
    spans = [np.array(chunk.offsets, dtype=np.int64) for chunk in table.column("shingles").chunks]  # copies
    del table
    sizes = np.concatenate([np.diff(span) for span in spans]) if spans else np.empty(0, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    hashes = np.empty(int(offsets[-1]), dtype=np.uint32)
    first = 0
    for k, span in enumerate(spans):
        with pa.memory_map(str(path)) as source:
            lists = pa.ipc.open_file(source).get_batch(k).column(1)
        count = int(span[-1] - span[0])
        hashes[first : first + count] = np.asarray(lists.values, dtype=np.uint32)[span[0] : span[-1]]
        first += count
        del lists
    return hashes, offsets


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


def even_runs(weights: np.ndarray, target: float, workers: int) -> list[int]:
    """Bounds ``0 = b[0] < ... < b[k] = len(weights)`` of ``k`` runs of consecutive items of
    about equal total weight, about ``target`` each, ``k`` a multiple of ``workers`` when
    there are that many items: processes taking runs as they free up then finish together,
    where runs of ``target`` each would leave the last one to a single process.
    """
    n = len(weights)
    if n == 0:
        return [0]
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    total = float(cumulative[-1])
    runs = max(1, math.ceil(total / target)) if target > 0 else n
    runs = min(n, -(-runs // workers) * workers if workers > 1 else runs)
    cuts = np.searchsorted(cumulative, total * np.arange(1, runs) / runs, side="left") + 1
    return [0, *np.unique(cuts[(cuts > 0) & (cuts < n)]).tolist(), n]


def in_order(pool: Executor, function: Callable[..., T], arguments: Iterable[tuple[Any, ...]], ahead: int
             ) -> Iterator[T]:
    """``function(*a)`` of each ``a`` of ``arguments``, in order, computed in ``pool`` with at
    most ``ahead`` calls submitted and not yet taken: the arguments are made as they are
    needed, not all at once."""
    pending: deque[Future[T]] = deque()
    for args in arguments:
        if len(pending) >= ahead:
            yield pending.popleft().result()
        pending.append(pool.submit(function, *args))
    while pending:
        yield pending.popleft().result()


def _new_pool(workers: int) -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from dedup.memory import keep_freed_memory

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=keep_freed_memory)


def process_pool(workers: int) -> Executor:
    """A process pool whose workers start fresh (``spawn``): safe inside threaded hosts.

    Inside a :func:`shared_workers` block, the pool of that size the block keeps (started
    on first use), seen through a handle whose shutdown ends only the work sent through it.
    """
    if _kept.pools is None:
        return _new_pool(workers)
    return _KeptPool(workers)


class _Kept:
    """The pools a :func:`shared_workers` block keeps, by size (None outside a block)."""

    def __init__(self) -> None:
        import threading

        self.pools: dict[int, Executor] | None = None
        self.lock = threading.Lock()

    def pool(self, workers: int, *, replace: Executor | None = None) -> Executor:
        """The kept pool of ``workers`` processes, a new one if it was ``replace`` (broken)."""
        with self.lock:
            if self.pools is None:
                raise RuntimeError("the shared_workers block has ended")
            pool = self.pools.get(workers)
            if pool is None or pool is replace:
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                pool = self.pools[workers] = _new_pool(workers)
            return pool


_kept = _Kept()


class _KeptPool(Executor):
    """A stage's handle on a kept pool: it submits to the pool, and its shutdown cancels or
    waits for the work submitted through it only, leaving the processes running."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        # The work sent through this handle and not ended yet. Ended work leaves the set (its
        # result belongs to the caller alone: holding it here would keep it in memory).
        self.futures: set[Future[Any]] = set()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        from concurrent.futures.process import BrokenProcessPool

        pool = _kept.pool(self.workers)
        try:
            future = pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:  # a process died in earlier work: start the pool again
            future = _kept.pool(self.workers, replace=pool).submit(fn, *args, **kwargs)
        self.futures.add(future)
        future.add_done_callback(self.futures.discard)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        from concurrent.futures import wait as wait_for

        under_way = list(self.futures)
        if cancel_futures:
            for future in under_way:
                future.cancel()
        if wait:
            wait_for(under_way)


@contextlib.contextmanager
def shared_workers() -> Iterator[None]:
    """Within the block, :func:`process_pool` hands out one kept pool per size: the stages
    of a run share their worker processes instead of each starting (and importing) its own.
    The pools are shut down when the block ends; a nested block uses the outer one's. The
    block also has this process keep freed memory for reuse (:func:`dedup.memory.keep_freed_memory`)."""
    if _kept.pools is not None:
        yield
        return
    from dedup.memory import keep_freed_memory

    keep_freed_memory()  # for the run's steps in this process; the workers do it as they start
    with _kept.lock:
        _kept.pools = {}
    try:
        yield
    finally:
        with _kept.lock:
            pools, _kept.pools = _kept.pools or {}, None
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
