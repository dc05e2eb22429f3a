"""The ``newsdedup`` command. Library errors become one clear line, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dedup.errors import InputError, NewsdedupError, OutputError


def _prefect_environment() -> None:
    """Defaults that make the temporary Prefect server work offline and on a fresh home."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if os.environ.get("PREFECT_API_URL", None) == "":
        del os.environ["PREFECT_API_URL"]  # an empty URL is not "no server": it breaks every call


def _check_inputs(paths: Sequence[str]) -> None:
    missing = [p for p in paths if not os.path.exists(p)]  # a broken link counts as missing
    if missing:
        raise InputError(f"input not found: {', '.join(missing)}")


def _seed(text: str) -> int:
    """A non-negative integer option (argparse reports anything else as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    _check_inputs(args.paths)
    _prefect_environment()
    from flows.pipeline import newsdedup_flow

    try:
        if args.workers is not None or args.dask_address is not None:  # docs/distributed.md
            from flows.distributed import run_distributed

            report = run_distributed(
                list(args.paths), str(args.output), workers=args.workers, address=args.dask_address,
                wait_seconds=args.wait, incremental=not args.replace,
            )
        else:
            report = newsdedup_flow(
                inputs=list(args.paths), output=str(args.output), wait_seconds=args.wait, incremental=not args.replace
            )
    except TimeoutError as exc:  # the Prefect concurrency slot of this output did not free up in time
        raise OutputError(
            f"output directory {args.output} is in use by another newsdedup run; "
            f"waited {args.wait:g} s ({exc}); try again later or choose another output directory"
        ) from exc
    outputs = next(s for s in report["stages"] if s["stage"] == "publish")["counts"]
    new = f" ({outputs['new_articles']} new)" if "new_articles" in outputs else ""
    print(
        f"newsdedup: {outputs['articles']} articles{new}, {outputs['duplicates']} duplicates, "
        f"{outputs['clusters']} clusters, {outputs['rejects']} rejects -> {args.output}"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _check_inputs(args.input)
    _prefect_environment()
    from prefect import serve

    from flows.pipeline import scheduled_deployment

    # Absolute paths: scheduled runs do not depend on where they are started from.
    inputs = [os.path.abspath(p) for p in args.input]
    deployment = scheduled_deployment(args.name, args.cron, inputs, os.path.abspath(args.output), args.wait)
    # Keep the schedule when this process stops: a restart picks it up again.
    serve(deployment, pause_on_shutdown=False)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dedup.evaluation.ecbplus import BENCHMARKS
    from dedup.evaluation.harness import evaluate_benchmark, format_report

    if args.json and not Path(args.json).resolve().parent.is_dir():  # fail before the evaluation runs
        raise OutputError(f"cannot write {args.json}: its directory does not exist")
    # A named benchmark also scores the duplicate groups: planted syndicated copies and real copies.
    result = evaluate_benchmark(
        args.benchmark, label_column=args.label_column, id_column=args.id_column, text_column=args.text_column,
        duplicates=args.benchmark in BENCHMARKS, variant_seed=args.variant_seed,
    )
    print(format_report(result))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
        except OSError as exc:
            raise OutputError(f"cannot write {args.json}: {exc.strerror or exc}") from exc
        print(f"scores written to {args.json}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from flows.inspect import show_cluster, show_clusters

    if args.cluster:
        show_cluster(Path(args.output), args.cluster)
    else:
        show_clusters(Path(args.output), limit=args.limit)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsdedup", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="find duplicates and event clusters; write Parquet outputs")
    run.add_argument(
        "paths", nargs="+", help="article files or directories (.txt .jsonl[.gz] .parquet .csv[.gz] .tsv[.gz] .html)"
    )
    run.add_argument("--output", "-o", default="output", help="output directory (default: output)")
    run.add_argument(
        "--wait", type=float, default=3600, help="seconds to wait while another run holds the output (default: 3600)"
    )
    run.add_argument(
        "--replace",
        action="store_true",
        help="replace the output with the results of PATH alone, without history (default: add PATH to it)",
    )
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="read and sign articles on a local Dask cluster of N")
    where.add_argument("--dask-address", metavar="tcp://HOST:PORT", help="... on an existing Dask cluster instead")
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", help="run incrementally on a schedule (a Prefect deployment served here)")
    serve.add_argument("--cron", required=True, help='schedule, e.g. "0 * * * *" for every hour')
    serve.add_argument("--input", "-i", action="append", required=True, help="input file or directory (repeatable)")
    serve.add_argument("--output", "-o", default="output", help="output directory (default: output)")
    serve.add_argument("--name", default="newsdedup-scheduled", help="deployment name (default: newsdedup-scheduled)")
    serve.add_argument("--wait", type=float, default=3600, help="seconds a run waits for the previous one")
    serve.set_defaults(func=cmd_serve)

    evaluate = sub.add_parser(
        "evaluate", help="score the clustering on labelled news (and, on a named benchmark, the near-duplicates)"
    )
    evaluate.add_argument("benchmark", help="ecbplus-train, ecbplus-dev, or a labelled .jsonl/.parquet/.csv file")
    evaluate.add_argument("--json", help="also write the scores to this JSON file")
    evaluate.add_argument("--label-column", default="event")
    evaluate.add_argument("--id-column", default="id")
    evaluate.add_argument("--text-column", default="text")
    evaluate.add_argument(
        "--variant-seed", type=_seed, default=0, metavar="N",
        help="seed of the planted copies of a named benchmark (default: 0)",
    )
    evaluate.set_defaults(func=cmd_evaluate)

    inspect = sub.add_parser("inspect", help="show the clusters of an output directory in the terminal")
    inspect.add_argument("output", nargs="?", default="output")
    inspect.add_argument("--cluster", help="show one cluster's members, duplicates and why they were grouped")
    inspect.add_argument("--limit", type=int, default=30)
    inspect.set_defaults(func=cmd_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except NewsdedupError as exc:
        print(f"newsdedup: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("newsdedup: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
