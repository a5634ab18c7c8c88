"""Training-data benchmark: the validator against the cookbook's logic, and a 1M-line import.

    python -m bench.dataset [--examples 100000] [--import-lines 1000000]

A generated file with known defects is checked by Voxdesk's validator and by a straightforward
per-line implementation of OpenAI's data-preparation cookbook (bench/cookbook_baseline.py), each
in its own process: the counts must be the same, and the time and peak memory are compared.
Then a 1M-line JSONL file is imported into a fresh dataset store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "dataset.json"
CL100K_MODEL = "gpt-3.5-turbo-0125"  # the cookbook's encoding, so token totals compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--import-lines", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker[0]](Path(args.worker[1]))))
        return
    from bench.dataset_file import write_dataset

    with tempfile.TemporaryDirectory(prefix="voxdesk-bench-") as folder:
        data = Path(folder) / "train.jsonl"
        planted = write_dataset(data, args.examples)
        ours, cookbook = worker("voxdesk", data), worker("cookbook", data)
        floor = worker("floor", data)
        big = Path(folder) / "import.jsonl"
        write_dataset(big, args.import_lines, seed=3)
        imported = worker("import", big)
        megabytes = data.stat().st_size / 1e6
    report(args, megabytes, planted, ours, cookbook, floor, imported)


def worker(name: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.dataset", "--worker", name, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_ours(path: Path) -> dict[str, Any]:
    from voxdesk.core.training.validator import validate_file

    started = time.perf_counter()
    result = validate_file(path, model=CL100K_MODEL)
    seconds = time.perf_counter() - started
    distributions = (result.messages_per_example, result.total_tokens_per_example,
                     result.assistant_tokens_per_example)  # fmt: skip
    counts = {"format_errors": result.format_errors,
              "missing_system_message": result.counts["missing_system_message"],
              "missing_user_message": result.counts["missing_user_message"],
              "total_tokens": result.total_tokens, "over_token_limit": result.too_long,
              "distributions": [[d.minimum, d.maximum, d.mean, d.median] if d else None
                                for d in distributions]}  # fmt: skip
    return {"seconds": seconds, "peak_rss_mb": _peak_mb(), "counts": counts,
            "worker_peak_rss_mb": _peak_mb(resource.RUSAGE_CHILDREN),
            "extra_findings": sum(result.warnings.values())}  # fmt: skip


def run_cookbook(path: Path) -> dict[str, Any]:
    import numpy  # noqa: F401 (imported before the clock starts, as for our validator)
    import tiktoken  # noqa: F401

    # Like the notebook's first cells, importing it loads the encoding: that is timed too,
    # as our validator's own loading of its tokenizer is.
    started = time.perf_counter()
    from bench import cookbook_baseline

    counts = cookbook_baseline.analyse(path)
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": _peak_mb(), "counts": counts}


def run_import(path: Path) -> dict[str, Any]:
    from voxdesk.core.training.database import Database
    from voxdesk.core.training.store import DatasetStore
    from voxdesk.core.training.transfer import import_file

    async def go(folder: str) -> Any:
        database = Database(Path(folder) / "voxdesk.db")
        started = time.perf_counter()
        result = await import_file(DatasetStore(database), "bench", path)
        seconds = time.perf_counter() - started
        await database.close()
        return result, seconds

    with tempfile.TemporaryDirectory(prefix="voxdesk-bench-db-") as folder:
        result, seconds = asyncio.run(go(folder))
    return {"seconds": seconds, "peak_rss_mb": _peak_mb(), "lines": result.lines_read,
            "imported": result.imported, "rejected": result.rejected,
            "file_mb": path.stat().st_size / 1e6}  # fmt: skip


def run_floor(path: Path) -> dict[str, Any]:
    """The least any validator must do here: parse every line, count every string's tokens.

    Parsing is timed on one core and counted as if split perfectly over all of them; counting
    uses every core already. No checks at all: no implementation can be faster than this.
    """
    import gc

    import orjson
    import toktok

    gc.disable()  # as in our workers: nothing here makes reference cycles
    started = time.perf_counter()
    texts: list[str] = []
    with path.open("rb") as handle:
        for line in handle:
            try:
                example = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            messages = example.get("messages") if isinstance(example, dict) else None
            for message in messages if isinstance(messages, list) else []:
                if isinstance(message, dict):
                    # roles are few: their counts can be known beforehand
                    texts += [v for k, v in message.items() if k != "role" and isinstance(v, str)]
    parsed = time.perf_counter()
    toktok.batch_count(texts, "cl100k_base")
    counted = time.perf_counter()
    cores = os.cpu_count() or 1
    return {"seconds": (parsed - started) / cores + counted - parsed, "peak_rss_mb": _peak_mb()}


WORKERS = {"voxdesk": run_ours, "cookbook": run_cookbook, "floor": run_floor,
           "import": run_import}  # fmt: skip


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def report(
    args: Any,
    megabytes: float,
    planted: Any,
    ours: dict[str, Any],
    cookbook: dict[str, Any],
    floor: dict[str, Any],
    imported: dict[str, Any],
) -> None:
    console = Console(width=120)
    table = Table(title=f"Validating {args.examples:,} examples ({megabytes:.0f} MB)")
    for column in ("implementation", "seconds", "examples/s", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "implementation" else "right")
    for name, row in (("voxdesk validator", ours), ("cookbook, line by line", cookbook)):
        table.add_row(name, f"{row['seconds']:.2f}", f"{args.examples / row['seconds']:,.0f}",
                      f"{row['peak_rss_mb']:.0f}")  # fmt: skip
    console.print(table)
    same = ours["counts"] == cookbook["counts"]
    speedup = cookbook["seconds"] / ours["seconds"]
    console.print(f"Counts identical to the cookbook's: {same} {ours['counts']}")
    console.print(f"Voxdesk's worker processes: peak RSS {ours['worker_peak_rss_mb']:.0f} MB each")
    console.print(f"Beyond the cookbook: {ours['extra_findings']} warnings (duplicates, PII, ...)")
    console.print(f"{'PASS' if speedup >= 10 else 'FAIL'}  at least 10x faster: {speedup:.1f}x")
    ceiling = cookbook["seconds"] / floor["seconds"]
    console.print(f"Floor (parse and count tokens only, every core): {floor['seconds']:.2f} s, "
                  f"{ceiling:.1f}x faster than the cookbook")  # fmt: skip
    console.print(f"Import of {imported['lines']:,} lines ({imported['file_mb']:.0f} MB): "
                  f"{imported['seconds']:.1f} s, {imported['lines'] / imported['seconds']:,.0f} "
                  f"lines/s, peak RSS {imported['peak_rss_mb']:.0f} MB, "
                  f"{imported['rejected']:,} bad lines reported")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"planted": planted, "voxdesk": ours, "cookbook": cookbook,
                                     "same_counts": same, "speedup": speedup, "floor": floor,
                                     "import": imported}, indent=2) + "\n")  # fmt: skip
    console.print(f"Wrote {args.json}")


if __name__ == "__main__":
    main()
