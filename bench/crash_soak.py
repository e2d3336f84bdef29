"""The crash matrix at full count: SIGKILL `homeroll` at many random moments of each job and check nothing is lost.

    .venv/bin/python bench/crash_soak.py [--kills 60] [--seed S] [--dir DIR]

The suite runs the same harness (tests/service/crash.py) with a dozen kills; this runs enough of them for
the rare windows (between a rename and its DB row, inside a migration) to be hit. It prints one row per
phase: kills, kills that landed (the process was still running), restarts that completed, kills after
which an invariant failed, worker processes that outlived their killed parent, and the median time from
the restart to done. Any failure is printed with the seed that replays it; the exit code is 1 then.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is sys.path[0]: put the repo root there so `tests` imports (see bench/daemon.py).
REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from tests.conftest import CORPUS  # noqa: E402
from tests.service.crash import PHASES, CrashMatrix, Outcome  # noqa: E402

HEADERS = ("phase", "kills", "landed", "restarts ok", "invariant failures", "orphans", "median restart-to-done")


def rows(outcomes: list[Outcome]) -> list[tuple]:
    out = []
    for phase in PHASES:
        mine = [o for o in outcomes if o.phase == phase]
        if mine:
            median = statistics.median(o.restart_seconds for o in mine)
            out.append((phase, len(mine), sum(o.landed for o in mine), sum(o.restart_ok for o in mine),
                        sum(bool(o.failures) for o in mine), sum(o.orphans for o in mine), f"{median:.2f} s"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: a random seed)")
    parser.add_argument("--dir", type=Path, default=None, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"the shared corpus is not at {CORPUS} (its face photos make the people)", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    base = args.dir or Path(tempfile.mkdtemp(prefix="homeroll-crash-"))
    base.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        matrix = CrashMatrix(base, CORPUS, seed)
        matrix.setup()
        print(f"seed {seed}: library and decisions ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
        outcomes = matrix.run(args.kills, log=lambda line: print(line, file=sys.stderr))
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    table = [HEADERS, *rows(outcomes)]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(HEADERS))]
    print(f"crash matrix, seed {seed}, {args.kills} kills, {time.monotonic() - started:.0f} s in all")
    for row in table:
        print("  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))))
    failed = [o for o in outcomes if o.failures]
    for o in failed:
        print(f"FAILED {o.phase} (kill at {o.delay:.3f} s, replay with --seed {seed}): {o.failures}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
