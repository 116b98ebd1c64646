"""Tasks per minute of the task suite (embedded planner) with 1 and 2 local workers (the thread pool)
and 1 and 2 Ray actors (a local runtime), on the same tasks in one run, taking turns; then how the
time per task grows with the suite's size on 2 Ray actors, and what a cluster of such machines
would give.

    python bench/eval_ray.py [--sizes 4 8 16] [--rounds 1]

Each Ray configuration starts its own runtime, as `gui-agent eval --ray` does: its start-up is in
its wall time. Model-only tasks are skipped by the embedded planner and not counted.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.evaluate import ModelOptions, evaluate  # noqa: E402
from sandbox.tasks import load_tasks  # noqa: E402

CONFIGS = {"local 1": (1, None), "local 2": (2, None), "ray 1": (1, ""), "ray 2": (2, "")}


def timed(tasks, root: Path, workers: int, ray: str | None) -> tuple[float, dict]:
    started = time.monotonic()
    summary = evaluate(tasks, root, ModelOptions("local"), workers, ray=ray)
    return time.monotonic() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    tasks = [task for task in load_tasks() if not task.model_only]
    walls: dict[str, list[float]] = {name: [] for name in CONFIGS}
    passed: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, (workers, ray) in CONFIGS.items():
                wall, summary = timed(tasks, Path(tmp) / f"{name}-{round_}".replace(" ", "-"), workers, ray)
                walls[name].append(wall)
                passed[name] = f"{summary['passed']}/{summary['tasks']}"
                print(f"{name}: {wall:.1f} s, {passed[name]} passed", flush=True)
        sizes = {}
        for size in [*args.sizes, len(tasks)]:
            wall, _ = timed(tasks[:size], Path(tmp) / f"size-{size}", 2, "")
            sizes[size] = wall
            print(f"ray 2, {size} tasks: {wall:.1f} s", flush=True)

    n = len(tasks)
    print(f"\n{n} tasks, medians of {args.rounds} round(s)")
    print(f"{'configuration':<16}{'wall s':>8}{'tasks/min':>11}{'vs local 1':>12}{'passed':>9}")
    base = statistics.median(walls["local 1"])
    for name in CONFIGS:
        wall = statistics.median(walls[name])
        print(f"{name:<16}{wall:>8.1f}{60 * n / wall:>11.1f}{base / wall:>11.2f}x{passed[name]:>9}")

    print("\nray 2: wall time and time per task by the suite's size")
    print(f"{'tasks':>6}{'wall s':>8}{'s/task':>8}")
    for size, wall in sizes.items():
        print(f"{size:>6}{wall:>8.1f}{wall / size:>8.2f}")
    (small, small_wall), (large, large_wall) = min(sizes.items()), max(sizes.items())
    per_task = (large_wall - small_wall) / (large - small)  # the marginal cost of one more task on 2 desks
    fixed = small_wall - per_task * small  # runtime and desks starting, the last task's tail
    print(f"fit: wall = {fixed:.1f} s + {per_task:.2f} s x tasks (2 desks)")
    cluster_rate = 4 * 60 / per_task
    print(f"a 4-node cluster of such machines, 2 desks each: ~{cluster_rate:.0f} tasks/min once started "
          f"(4 x the marginal rate of one node, desks on different nodes sharing no cores), "
          f"{fixed + 100 / (cluster_rate / 60):.0f} s for 100 tasks")
    print(" ".join(f"{name.replace(' ', '_')}_s={statistics.median(walls[name]):.1f}" for name in CONFIGS)
          + f" tasks={n} marginal_s_per_task={per_task:.2f} fixed_s={fixed:.1f} cluster4_tasks_per_min={cluster_rate:.0f}")


if __name__ == "__main__":
    main()
