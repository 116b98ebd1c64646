"""Tasks per minute of the task suite (embedded planner) on a Ray cluster of 1, 2 and 3 nodes of this
machine (ray.cluster_utils.Cluster, one CPU and so one desk a node), beside the thread pool with 1,
2 and 3 workers, on the same tasks, the configurations taking turns in each round.

    python bench/eval_ray.py [--rounds 1] [--tasks N]

A cluster stands before its evaluation starts, as one a user runs `gui-agent eval --ray ADDRESS`
against would: the wall time is the driver's connection and the evaluation; the cluster's start
is printed apart. `runs s` is the sum of the tasks' `gui-agent run` times, `floor s` the 1-worker
pool's runs split evenly over the desks (as if sandboxes, apps and Ray cost nothing). Model-only
tasks are skipped by the embedded planner and not counted.
"""

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from agent.evaluate import ModelOptions, evaluate  # noqa: E402
from agent.ray_eval import loopback_only  # noqa: E402
from sandbox.tasks import load_tasks  # noqa: E402

CONFIGS = [("pool", 1), ("pool", 2), ("pool", 3), ("ray", 1), ("ray", 2), ("ray", 3)]


def timed(call) -> tuple[float, dict]:
    started = time.monotonic()
    summary = call()
    return time.monotonic() - started, summary


def on_cluster(tasks, out: Path, nodes: int) -> tuple[float, dict, float]:
    """Wall time and summary of the tasks on a standing cluster of `nodes` nodes; its start time."""
    started = time.monotonic()
    with loopback_only(ray):  # the nodes on 127.0.0.1, and the driver looking for them there
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        start = time.monotonic() - started

        def run() -> dict:
            ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.ERROR)
            return evaluate(tasks, out, ModelOptions("local"), None, ray=cluster.address)

        try:
            wall, summary = timed(run)
        finally:
            ray.shutdown()
            cluster.shutdown()
    return wall, summary, start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tasks", type=int, help="the suite's first N tasks (default: all)")
    args = parser.parse_args()
    tasks = [task for task in load_tasks() if not task.model_only][:args.tasks]
    walls: dict[tuple, list[float]] = {config: [] for config in CONFIGS}
    runs: dict[tuple, list[float]] = {config: [] for config in CONFIGS}
    passed: dict[tuple, list[str]] = {config: [] for config in CONFIGS}
    starts: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for kind, count in CONFIGS:
                out = Path(tmp) / f"{kind}-{count}-{round_}"
                if kind == "pool":
                    def pool_run(out=out, count=count):
                        return evaluate(tasks, out, ModelOptions("local"), count)
                    wall, summary = timed(pool_run)
                else:
                    wall, summary, start = on_cluster(tasks, out, count)
                    starts.append(start)
                walls[kind, count].append(wall)
                runs[kind, count].append(sum(r["seconds"] for r in summary["results"]))
                passed[kind, count].append(f"{summary['passed']}/{summary['tasks']}")
                print(f"{kind} {count}: {wall:.1f} s, {passed[kind, count][-1]} passed", flush=True)
    report(len(tasks), walls, runs, passed, starts, args.rounds)


def report(n: int, walls: dict, runs: dict, passed: dict, starts: list[float], rounds: int) -> None:
    wall = {config: statistics.median(values) for config, values in walls.items()}
    floor_runs = statistics.median(runs["pool", 1])
    print(f"\n{n} tasks, medians of {rounds} round(s); a cluster's start (not in its wall time): "
          f"{statistics.median(starts):.1f} s")
    print(f"{'configuration':<20}{'wall s':>8}{'tasks/min':>11}{'runs s':>8}{'floor s':>9}{'vs pool 1':>11}"
          f"{'vs pool, same n':>17}  passed")
    for (kind, count), seconds in wall.items():
        name = f"pool, {count} worker(s)" if kind == "pool" else f"ray, {count} node(s)"
        print(f"{name:<20}{seconds:>8.1f}{60 * n / seconds:>11.1f}{statistics.median(runs[kind, count]):>8.1f}"
              f"{floor_runs / count:>9.1f}{wall['pool', 1] / seconds:>10.2f}x{wall['pool', count] / seconds:>16.2f}x"
              f"  {' '.join(passed[kind, count])}")
    print(" ".join(f"{kind}{count}_tasks_per_min={60 * n / seconds:.1f}" for (kind, count), seconds in wall.items())
          + f" tasks={n} cluster_start_s={statistics.median(starts):.1f}")


if __name__ == "__main__":
    main()
