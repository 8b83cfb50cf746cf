"""How long the consensus core takes to aggregate one group, and the room.

    .venv/bin/python bench/aggregate.py [--runs 9]

Prints the median (and best) wall time of ``consensus.aggregate_group`` for one group of m random
complete rankings of 9 statements (Task 5.1 after the discard) with a discard tally and a top five
each, for m = 10, 100, 500, 5000; then the same for 12 statements (the largest deck), and
``aggregate_room`` for a room of 200 participants in 40 groups. The target is at most 5 ms for
m = 500 with 9 statements.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facilitator.consensus import aggregate_group, aggregate_room  # noqa: E402

TARGET_MS = 5.0


def random_group(rng: random.Random, n: int, m: int, discard: bool) -> dict:
    """Answers of m participants for a deck of n statements (+1 discarded when ``discard``)."""
    statements = list(range(1, n + 1 + (1 if discard else 0)))
    group_discard = rng.choice(statements) if discard else None
    remaining = [s for s in statements if s != group_discard]
    rankings = [tuple(rng.sample(remaining, n)) for _ in range(m)]
    return {
        "statements": statements,
        "discard_votes": [rng.choice(statements) for _ in range(m)] if discard else [],
        "group_discard": group_discard,
        "rankings": rankings,
        "tops": [r[:5] for r in rankings],
        "has_discard": discard,
    }


def time_ms(call, runs: int) -> tuple[float, float]:
    """Median and best wall time of ``call()`` over ``runs`` runs, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def bench_group(rng: random.Random, n: int, m: int, runs: int) -> tuple[float, float]:
    """Time ``aggregate_group`` for one group of m rankings of n statements."""
    group = random_group(rng, n, m, discard=n < 12)
    answers = {k: v for k, v in group.items() if k != "statements"}
    return time_ms(lambda: aggregate_group(group["statements"], **answers), runs)


def bench_room(rng: random.Random, groups: int, size: int, runs: int) -> tuple[float, float]:
    """Time ``aggregate_room`` for ``groups`` groups of ``size`` participants (Task 5.1 shape)."""
    results, rankings = [], []
    for _ in range(groups):
        group = random_group(rng, 9, size, discard=True)
        answers = {k: v for k, v in group.items() if k != "statements"}
        results.append(aggregate_group(group["statements"], **answers))
        rankings.append(group["rankings"])
    statements = list(range(1, 11))
    return time_ms(lambda: aggregate_room(statements, results, rankings, 5), runs)


def main(argv: list[str] | None = None) -> int:
    """Print the timing table; exit status 1 if m = 500 misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per case (median reported)")
    args = parser.parse_args(argv)
    rng = random.Random(20240501)
    print(f"Python {sys.version.split()[0]}; median and best of {args.runs} runs (5 for m = 5000)")
    print(f"{'case':<38}{'median ms':>10}{'best ms':>10}")
    verdict = 0
    for n, sizes in ((9, (10, 100, 500, 5000)), (12, (10, 100, 500, 5000))):
        for m in sizes:
            runs = min(5, args.runs) if m >= 5000 else args.runs
            median, best = bench_group(rng, n, m, runs)
            note = ""
            if (n, m) == (9, 500):
                ok = median <= TARGET_MS
                note = f"  target <= {TARGET_MS:g} ms: {'ok' if ok else 'MISSED'}"
                verdict = 0 if ok else 1
            print(f"{f'group: n = {n}, m = {m}':<38}{median:>10.2f}{best:>10.2f}{note}")
    median, best = bench_room(rng, 40, 5, args.runs)
    print(f"{'room: 40 groups x 5, n = 10':<38}{median:>10.2f}{best:>10.2f}")
    return verdict


if __name__ == "__main__":
    sys.exit(main())
