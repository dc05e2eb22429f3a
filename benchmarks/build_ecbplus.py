"""Regenerate the compact ECB+ benchmark files from the original release.

Reads the XML documents of the train and dev topics and the document labels, rebuilds each
article's text and writes ``ecbplus_train.jsonl.gz`` and ``ecbplus_dev.jsonl.gz`` with
reproducible bytes, plus the release's licence files, into the output directory.

Usage::

    python benchmarks/build_ecbplus.py --source PATH/TO/news_clustering/ecbplus --out data/benchmarks
    python benchmarks/build_ecbplus.py --source PATH/TO/news_clustering/ecbplus --check

``--source`` is the directory holding ``ecbplus_doc_labels.tsv`` and ``ECB+_LREC2014/``.
With ``--check`` nothing is written: the exit status is 1 when the committed files differ
from what the release gives.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    from dedup.errors import InputError
    from dedup.evaluation.ecbplus import SPLITS, convert_ecbplus, write_jsonl_gz
except ModuleNotFoundError:
    # Run from a plain checkout without the package installed: import it from the repository.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dedup.errors import InputError
    from dedup.evaluation.ecbplus import SPLITS, convert_ecbplus, write_jsonl_gz

__all__ = ["build", "main"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "news_clustering" / "ecbplus"
DEFAULT_OUT = REPO_ROOT / "data" / "benchmarks"
RELEASE_DIR = "ECB+_LREC2014"
LABELS_FILE = "ecbplus_doc_labels.tsv"
LICENCE_FILES = ("LICENSEDATA.TXT", "COPYING-CC.TXT")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help=f"directory with {LABELS_FILE} and {RELEASE_DIR}/ (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the files in --out instead of writing"
    )
    return parser.parse_args(argv)


def output_name(split: str) -> str:
    """File name of one split: ``ecbplus_<split>.jsonl.gz``."""
    return f"ecbplus_{split}.jsonl.gz"


def describe(records: Sequence[dict[str, Any]]) -> str:
    """One line of counts: documents, events, topics."""
    events = {r["event"] for r in records}
    topics = {r["topic"] for r in records}
    return f"{len(records)} documents, {len(events)} events, {len(topics)} topics"


def write_split_files(records: Sequence[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Write one gzipped JSON-lines file per split; return split -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in SPLITS:
        path = out_dir / output_name(split)
        write_jsonl_gz([r for r in records if r["split"] == split], path)
        paths[split] = path
    return paths


def copy_licences(source: Path, out_dir: Path) -> list[Path]:
    """Copy the release's licence texts, prefixed ``ECBPLUS_`` so their origin is clear."""
    copied = []
    for name in LICENCE_FILES:
        original = source / RELEASE_DIR / name
        if not original.is_file():
            raise InputError(f"licence file {original} is missing; the release must be complete")
        target = out_dir / f"ECBPLUS_{name}"
        shutil.copyfile(original, target)
        copied.append(target)
    return copied


def build(source: Path, out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Convert the release and write the benchmark files and licences into ``out_dir``.

    Returns:
        Split -> its records, as written.
    """
    records = convert_ecbplus(source / RELEASE_DIR, source / LABELS_FILE)
    write_split_files(records, out_dir)
    copy_licences(source, out_dir)
    return {split: [r for r in records if r["split"] == split] for split in SPLITS}


def differing_files(source: Path, committed_dir: Path) -> list[str]:
    """Names of the files in ``committed_dir`` that a fresh build would change."""
    with tempfile.TemporaryDirectory() as scratch:
        build(source, Path(scratch))
        return [
            item.name
            for item in sorted(Path(scratch).iterdir())
            if not (committed_dir / item.name).is_file()
            or (committed_dir / item.name).read_bytes() != item.read_bytes()
        ]


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or check) the benchmark files; return the process exit status."""
    args = parse_args(argv)
    try:
        if args.check:
            stale = differing_files(args.source, args.out)
            print("up to date" if not stale else f"out of date: {', '.join(stale)}")
            return 1 if stale else 0
        splits = build(args.source, args.out)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for split, records in splits.items():
        path = args.out / output_name(split)
        print(f"{path}: {describe(records)}, {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
