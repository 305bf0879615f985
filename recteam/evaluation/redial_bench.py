"""Times `recteam eval redial` as a whole command, with the machine's load beside the figures.

    python -m recteam.evaluation.redial_bench --limit 300 [-- --workers 1 ...]

Prints the load average before and after, the wall time, the run's own stage times (embedding,
catalogs, turns, weight fit), turns per second and R@1/10/50 (out-of-fold and in-sample), and the
wall time extrapolated to 1,000 dialogues by turns (a figure, not a timed test). Arguments after
`--` go to `recteam eval redial` as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL_RUN_POINTS = 2907  # recommender turns of ReDial dev's 1,000 dialogues


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300, help="dialogues to score")
    parser.add_argument("rest", nargs="*", help="more arguments for `recteam eval redial`")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="recteam-redial-bench-") as tmp:
        command = [
            sys.executable, "-m", "recteam", "eval", "redial", "--json",
            "--limit", str(args.limit), "--out", tmp, *args.rest,
        ]  # fmt: skip
        before = _load()
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        wall = time.perf_counter() - t0
        after = _load()
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return done.returncode
    r = json.loads(done.stdout)
    team, inside = r["systems"]["recteam"]["all"], r.get("in_sample", {}).get("team ranking")
    print(f"load before {before}, after {after} ({os.cpu_count()} cores)")
    print(
        f"{r['dialogues']} dialogues, {r['points']} turns, {r.get('workers', 1)} worker(s): "
        f"wall {wall:.1f} s; embedding {r.get('embed_s', 0)} s, catalogs {r['catalog_s']} s "
        f"(summed over workers), turns {r['turns_s']} s "
        f"({r['points'] / max(r['turns_s'], 1e-9):.1f} turns/s), fit {r.get('fit_s', 0)} s; "
        f"reading the data {r.get('prepare_s', '?')} s, the turns' results put together "
        f"{r.get('collect_s', '?')} s"
    )
    print("R@1/10/50 " + "/".join(f"{team[f'R@{k}']:.3f}" for k in (1, 10, 50)), end="")
    if inside:
        print(
            " (in-sample " + "/".join(f"{inside['all'][f'R@{k}']:.3f}" for k in (1, 10, 50)) + ")"
        )
    else:
        print()
    per_turn = (wall - r.get("embed_s", 0)) / max(r["points"], 1)
    print(
        f"extrapolated to 1,000 dialogues ({FULL_RUN_POINTS:,} turns): {per_turn * FULL_RUN_POINTS / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
