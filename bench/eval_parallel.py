"""Wall time of the whole task suite with the embedded planner, one task at a time and two at a
time (each task in its own Xvfb display and `gui-agent run` process), and the pass rate of each run;
beside it the floor: the time of the runs themselves (the sum of the tasks' `gui-agent run` times
with one worker) split evenly over the workers, as if starting sandboxes and apps cost nothing.

    python bench/eval_parallel.py [--workers 1 2] [--keep DIR]

Model-only tasks are skipped by the embedded planner and not counted. The episodes go to a
temporary folder unless --keep names one.
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.evaluate import ModelOptions, evaluate  # noqa: E402
from sandbox.tasks import load_tasks  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, help="write the evaluations' folders here")
    args = parser.parse_args()
    tasks = load_tasks()
    summaries = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for workers in args.workers:
            summaries[workers] = evaluate(tasks, root / f"workers-{workers}", ModelOptions("local"), workers)
            s = summaries[workers]
            print(f"workers {workers}: {s['seconds']:.0f} s, {s['passed']}/{s['tasks']} passed, "
                  f"{s['skipped']} skipped", flush=True)
    print(f"\n{'task':<22}" + "".join(f"{f'w{w} result':>12}{f'w{w} s':>8}" for w in args.workers))
    for index, task in enumerate(tasks):
        row = f"{task.name:<22}"
        for workers in args.workers:
            r = summaries[workers]["results"][index]
            verdict = "skipped" if r["status"] == "skipped" else "pass" if r["passed"] else f"FAIL:{r['status']}"
            row += f"{verdict:>12}{r['seconds']:>8.1f}"
        print(row)
    print(f"\n{'workers':<10}{'wall s':>8}{'runs s':>8}{'floor s':>9}{'passed':>10}{'rate':>7}{'speedup':>9}")
    first = summaries[args.workers[0]]
    for workers, s in summaries.items():
        passed = f"{s['passed']}/{s['tasks']}"
        runs = sum(r["seconds"] for r in s["results"])
        floor = sum(r["seconds"] for r in first["results"]) * first["workers"] / workers
        print(f"{workers:<10}{s['seconds']:>8.0f}{runs:>8.0f}{floor:>9.0f}{passed:>10}"
              f"{100 * s['passed'] / s['tasks']:>6.0f}%{first['seconds'] / s['seconds']:>8.2f}x")
    print(" ".join(f"workers{w}_s={s['seconds']:.0f} workers{w}_passed={s['passed']} workers{w}_tasks={s['tasks']}"
                   for w, s in summaries.items())
          + f" speedup={first['seconds'] / summaries[args.workers[-1]]['seconds']:.2f}")


if __name__ == "__main__":
    main()
