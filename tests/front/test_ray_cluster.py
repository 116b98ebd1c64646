"""`gui-agent eval --ray ADDRESS` on a cluster: a head and two worker nodes on this machine
(ray.cluster_utils.Cluster), one desk each. A worker node removed while its desk runs a task leaves
every task accounted for: the one under way there passes on its second attempt, on a desk still
alive (a task lost twice is `worker_lost` with the reason: test_ray_eval), the others pass; OUT is
complete, and no process, Xvfb or scratch folder of a desk is left on any node, the removed one
included."""

import tempfile
import threading
import time
from pathlib import Path

import pytest

from agent.core.episode import read_episode
from agent.evaluate import ModelOptions, evaluate
from agent.ray_eval import loopback_only
from tests.front.test_eval import BY_NAME, programs  # noqa: F401 (programs is a fixture)
from tests.front.test_ray_eval import descendants, gone, processes

ray = pytest.importorskip("ray", reason="ray is in the test extra (requirements.lock): run .ci/install")
from ray.cluster_utils import Cluster  # noqa: E402

TASKS = ("form_name", "xterm_echo", "xterm_title", "form_subscribe", "xcalc_keys", "editor_title")


@pytest.fixture
def cluster():
    """Three nodes of one CPU (one desk) each, on 127.0.0.1, and this process a driver connected to
    them (a driver outside Ray's single-machine mode would look for them on the outward address)."""
    with loopback_only(ray):
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False, configure_logging=True, logging_level="ERROR")
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def raylet(node) -> int:
    return node.all_processes["raylet"][0].process.pid


def watch(cluster, seen: dict, evaluated: threading.Event) -> None:
    """Notes the desks' X servers on every node, and once a desk runs a task on a worker node (not
    the driver's), notes that node's processes and removes it."""
    while not evaluated.is_set():
        driver = ray.get_runtime_context().get_node_id()
        for node in [cluster.head_node, *cluster.worker_nodes]:
            on_node = descendants(raylet(node))
            xvfbs = on_node & processes("Xvfb")
            seen["xvfbs"] |= xvfbs
            if xvfbs and node.node_id != driver and not seen["removed"]:
                seen["removed"] = on_node
                cluster.remove_node(node)
        time.sleep(0.1)


def test_a_worker_node_lost_mid_suite_leaves_every_task_accounted_for_and_nothing_behind(programs, cluster,  # noqa: F811
                                                                                       tmp_path):
    seen, evaluated = {"xvfbs": set(), "removed": set()}, threading.Event()
    watcher = threading.Thread(target=watch, args=(cluster, seen, evaluated))
    watcher.start()
    out = tmp_path / "eval"
    try:
        summary = evaluate([BY_NAME[name] for name in TASKS], out, ModelOptions("local"), workers=None,
                           ray=cluster.address)
    finally:
        evaluated.set()
        watcher.join()

    assert seen["removed"], "no desk ran a task on a worker node"
    assert summary["ray"] == cluster.address and summary["workers"] == 3
    results = {result["task"]: result for result in summary["results"]}
    assert list(results) == list(TASKS)
    assert [r["task"] for r in results.values() if r.get("attempts") == 2], "no task was under way on the removed node"
    for result in results.values():  # the lost desk's task on a live desk, not on one gone with the node or unplaced
        assert result["passed"] is True and result.get("attempts", 1) in (1, 2), result
        assert read_episode(out / result["task"]).end["status"] == "done"
        assert (out / result["task"] / "report.html").is_file()
    assert (out / "summary.json").is_file() and (out / "report.html").is_file()
    assert not gone(seen["removed"]), "a process of the removed node was left"
    assert not gone(seen["xvfbs"]), "a desk left its Xvfb"
    assert not list(Path(tempfile.gettempdir()).glob("gui-agent-desk-*")), "a desk's scratch folder was left"
