"""The data contract: Arrow schemas of every table the pipeline writes.

Each output file is written with exactly one of these schemas (never an inferred one), and
:func:`conform` checks a table at the I/O edge. ``README.md`` documents the columns.
"""

from __future__ import annotations

import pyarrow as pa

from dedup.errors import SchemaError

TIMESTAMP = pa.timestamp("us", tz="UTC")

#: One row per accepted article (``articles.parquet``).
ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("source", pa.string()),
        pa.field("url", pa.string()),
        pa.field("published_at", TIMESTAMP),
        pa.field("dateline", pa.string()),
        pa.field("byline", pa.string()),
        pa.field("input", pa.string(), nullable=False),
        pa.field("record", pa.string(), nullable=False),
        pa.field("n_words", pa.int32(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("dup_group_id", pa.string(), nullable=False),
        pa.field("is_canonical", pa.bool_(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)

#: One row per event cluster (``clusters.parquet``).
CLUSTERS = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("size", pa.int32(), nullable=False),
        pa.field("n_canonical", pa.int32(), nullable=False),
        pa.field("article_ids", pa.list_(pa.string()), nullable=False),
        pa.field("representative_id", pa.string(), nullable=False),
        pa.field("headline", pa.string(), nullable=False),
        pa.field("summary", pa.string(), nullable=False),
        pa.field("summary_sentences", pa.list_(pa.string()), nullable=False),
        pa.field("top_terms", pa.list_(pa.string()), nullable=False),
        pa.field("entities", pa.list_(pa.string()), nullable=False),
        pa.field("places", pa.list_(pa.string()), nullable=False),
        pa.field("sources", pa.list_(pa.string()), nullable=False),
        pa.field("first_published", TIMESTAMP),
        pa.field("last_published", TIMESTAMP),
        pa.field("cohesion", pa.float32(), nullable=False),
        # Kept by runs with history (see docs/incremental.md); times are null in a run without
        # history. Nullable so that tables written before these columns existed still conform.
        pa.field("created_at", TIMESTAMP),
        pa.field("updated_at", TIMESTAMP),
        pa.field("status", pa.string()),
    ]
)

#: One row per article that is a copy of another (``duplicates.parquet``).
DUPLICATES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string(), nullable=False),
        pa.field("similarity", pa.float32(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
    ]
)

#: One row per input item that was not used (``rejects.parquet``).
REJECTS = pa.schema(
    [
        pa.field("input", pa.string(), nullable=False),
        pa.field("record", pa.string(), nullable=False),
        pa.field("article_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("dropped", pa.bool_(), nullable=False),
    ]
)

#: Stage table after ingest and cleaning (``work/documents.parquet``): the one record every
#: later stage reads.
DOCUMENTS = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("source", pa.string()),
        pa.field("url", pa.string()),
        pa.field("published_at", TIMESTAMP),
        pa.field("dateline", pa.string()),
        pa.field("byline", pa.string()),
        pa.field("input", pa.string(), nullable=False),
        pa.field("record", pa.string(), nullable=False),
        pa.field("n_words", pa.int32(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)

#: Every article an output's history has seen (``state/documents.parquet``): the article
#: columns plus what later runs need to check new articles against it.
STATE_DOCUMENTS = pa.schema(
    [
        *ARTICLES,
        pa.field("similarity", pa.float32(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("first_seen_run", pa.string(), nullable=False),
        pa.field("ingest_date", pa.date32(), nullable=False),
    ]
)

#: Every cluster id ever issued (``state/clusters.parquet``); retired ids stay, never reissued.
STATE_CLUSTERS = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        pa.field("updated_at", TIMESTAMP, nullable=False),
        pa.field("created_run", pa.string(), nullable=False),
        pa.field("retired_at", TIMESTAMP),
        pa.field("merged_into", pa.string()),
    ]
)

#: One row per run of an output with history (``history/runs.parquet``).
RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("started_at", TIMESTAMP, nullable=False),
        pa.field("inputs", pa.list_(pa.string()), nullable=False),
        pa.field("read", pa.int64(), nullable=False),
        pa.field("new_articles", pa.int64(), nullable=False),
        pa.field("already_seen", pa.int64(), nullable=False),
        pa.field("rejected", pa.int64(), nullable=False),
        pa.field("new_duplicates", pa.int64(), nullable=False),
        pa.field("duplicates_of_history", pa.int64(), nullable=False),
        pa.field("new_clusters", pa.int64(), nullable=False),
        pa.field("updated_clusters", pa.int64(), nullable=False),
        pa.field("retired_clusters", pa.int64(), nullable=False),
        pa.field("articles_total", pa.int64(), nullable=False),
        pa.field("clusters_total", pa.int64(), nullable=False),
    ]
)

def signature_schema(num_perm: int, settings: dict[str, str]) -> pa.Schema:
    """Schema of a ``signatures.parquet`` file: article id and a fixed-size list of
    ``num_perm`` uint32 MinHash values, with the MinHash ``settings`` in its metadata (a
    signature is comparable only with signatures made under the same settings)."""
    return pa.schema(
        [
            pa.field("article_id", pa.string(), nullable=False),
            pa.field("signature", pa.list_(pa.uint32(), num_perm)),
        ],
        metadata=settings,
    )


OUTPUT_SCHEMAS: dict[str, pa.Schema] = {
    "articles.parquet": ARTICLES,
    "clusters.parquet": CLUSTERS,
    "duplicates.parquet": DUPLICATES,
    "rejects.parquet": REJECTS,
}


def conform(table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    """Return ``table`` with exactly ``schema``'s columns, order and types.

    Raises:
        SchemaError: a column is missing, cannot be cast, or a non-nullable column has nulls.
    """
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise SchemaError(f"{name}: missing column(s) {', '.join(missing)}")
    columns = []
    for f in schema:
        col = table.column(f.name)
        if not f.nullable and col.null_count:
            raise SchemaError(f"{name}: column {f.name!r} has {col.null_count} null value(s)")
        try:
            columns.append(col.cast(f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(f"{name}: column {f.name!r} cannot be cast to {f.type}: {exc}") from exc
    return pa.Table.from_arrays(columns, schema=schema)
