"""`gui-agent eval --ray` (agent.ray_eval): the suite's tasks on a local Ray runtime give the thread
pool's results and folders; a desk (actor) that dies mid-task is replaced and the task tried once
more, then counted failed with the reason; Ctrl+C ends every desk and leaves no Xvfb and no Ray
process; the runtime listens on 127.0.0.1 only; without Ray the flag says how to install it."""

import dataclasses
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from agent.cli import main
from agent.core.episode import read_episode
from agent.evaluate import ModelOptions, evaluate
from agent.ray_eval import SCRATCH_PREFIX, loopback_only
from tests.front.test_eval import BY_NAME, programs  # noqa: F401 (programs is a fixture)

ray = pytest.importorskip("ray", reason="ray is in the test extra (requirements.lock): run .ci/install")
COMPARED = ("task", "passed", "status", "steps")


@pytest.fixture(scope="module")
def runtime():
    """One local runtime of 2 CPUs for the module's in-process evaluations (each would start its own)."""
    with loopback_only(ray):
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=True,
                 logging_level="ERROR")
    yield
    ray.shutdown()


def processes(name: str, holding: str = "") -> set[int]:
    """The processes called `name` whose command line holds `holding`."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == name \
                    and holding in (entry / "cmdline").read_text():
                found.add(int(entry.name))
        except OSError:
            pass
    return found


def desk_xvfbs() -> set[int]:
    """The X servers of desks' sandboxes (their cookie is in a desk's scratch folder), not those of
    other programs on the machine."""
    return processes("Xvfb", holding=f"/{SCRATCH_PREFIX}")


def descendants(pid: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except OSError:
            pass
    found, new = set(), {pid}
    while new:
        found |= new
        new = {child for child, parent in parents.items() if parent in new} - found
    return found - {pid}


def listening(pids: set[int]) -> list[tuple[str, str]]:
    """(process name, address) of each TCP socket the processes listen on, from /proc/net/tcp(6)."""
    owners = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                if (link := os.readlink(fd)).startswith("socket:["):
                    owners[link[8:-1]] = (Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            pass
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state, inode = line.split()[1], line.split()[3], line.split()[9]
            if state == "0A" and inode in owners:  # 0A: LISTEN
                raw = bytes.fromhex(local.split(":")[0])
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # each 32-bit word is host-order
                found.append((owners[inode], socket.inet_ntop(family, words)))
    return found


def loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def gone(pids: set[int], timeout: float = 15.0) -> set[int]:
    """Those of the processes still there after waiting up to `timeout` for them to end."""
    deadline = time.monotonic() + timeout
    while (left := {pid for pid in pids if Path(f"/proc/{pid}").exists()}) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_the_tasks_on_ray_end_as_they_do_in_the_thread_pool(programs, runtime, tmp_path):  # noqa: F811
    # xterm_interrupt: ctrl+c reaches the xterm's command though the desk's thread blocks SIGINT
    tasks = [BY_NAME[name] for name in ("form_name", "xterm_interrupt", "xcalc_keys", "form_nordic")]
    here = evaluate(tasks, tmp_path / "here", ModelOptions("local"), workers=2)
    on_ray = evaluate(tasks, tmp_path / "ray", ModelOptions("local"), workers=2, ray="")

    assert [{k: r[k] for k in COMPARED} for r in on_ray["results"]] == \
        [{k: r[k] for k in COMPARED} for r in here["results"]]
    assert on_ray["passed"] == here["passed"] == 3 and on_ray["skipped"] == here["skipped"] == 1
    assert on_ray["ray"] == "local" and on_ray["workers"] == 2
    for task in ("form_name", "xterm_interrupt", "xcalc_keys"):
        files = {p.relative_to(tmp_path / "ray" / task) for p in (tmp_path / "ray" / task).rglob("*")}
        assert files == {p.relative_to(tmp_path / "here" / task) for p in (tmp_path / "here" / task).rglob("*")}
        assert read_episode(tmp_path / "ray" / task).end["status"] == "done"
    assert json.loads((tmp_path / "ray" / "summary.json").read_text()) == on_ray
    assert (tmp_path / "ray" / "report.html").is_file()
    assert not list(Path(tempfile.gettempdir()).glob("gui-agent-desk-*")), "a desk left its scratch folder"


def dies(marker: Path | None):
    """A checker that kills the process it runs in (the desk's): every time, or only the first."""
    def check(end) -> bool:
        if marker is None or not marker.exists():
            if marker:
                marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return True
    return check


def test_a_desk_that_dies_is_replaced_and_its_task_tried_once_more_then_counted_failed(programs, runtime,  # noqa: F811
                                                                                       tmp_path):
    xvfbs = desk_xvfbs()
    title = BY_NAME["xterm_title"]
    tasks = [dataclasses.replace(title, name="dies_once", check=dies(tmp_path / "died")),
             dataclasses.replace(title, name="always_dies", check=dies(None)), BY_NAME["form_name"]]
    summary = evaluate(tasks, tmp_path / "eval", ModelOptions("local"), workers=2, ray="")
    once, always, name = summary["results"]

    assert once["passed"] is True and once["attempts"] == 2 and (tmp_path / "died").exists()
    assert always["passed"] is False and always["status"] == "worker_lost" and always["attempts"] == 2
    assert always["detail"].startswith("its desk was lost 2 times (") and "\n" not in always["detail"]
    assert name["passed"] is True and "attempts" not in name
    assert read_episode(tmp_path / "eval" / "dies_once").end["status"] == "done"
    assert not gone(desk_xvfbs() - xvfbs), "a killed desk left its Xvfb"
    assert not list(Path(tempfile.gettempdir()).glob("gui-agent-desk-*")), "a killed desk's scratch folder was left"


def test_a_desk_that_hangs_is_killed_and_its_task_counted_failed_so_the_suite_ends(programs, runtime, tmp_path,  # noqa: F811
                                                                                   monkeypatch):
    monkeypatch.setattr("agent.ray_eval.GRACE_SECONDS", 1.0)  # a desk is hung 3 s past the task's time, not 3 min
    monkeypatch.setattr("agent.ray_eval.HUNG_SECONDS", 2.0)
    xvfbs = desk_xvfbs()
    hangs = dataclasses.replace(BY_NAME["xterm_title"], name="hangs", max_seconds=4,
                                check=lambda end: time.sleep(600) or True)
    started = time.monotonic()
    summary = evaluate([hangs, BY_NAME["form_name"]], tmp_path / "eval", ModelOptions("local"), workers=2, ray="")
    hung, name = summary["results"]

    assert time.monotonic() - started < 60
    assert hung["status"] == "worker_lost" and hung["passed"] is False and hung.get("attempts") == 2, hung
    assert name["passed"] is True
    assert not gone(desk_xvfbs() - xvfbs), "a killed desk left its Xvfb"


def test_tasks_no_desk_can_be_placed_for_end_worker_lost_with_the_reason(programs, runtime, tmp_path,  # noqa: F811
                                                                       monkeypatch):
    class Holder:  # defined here, so Ray sends the class itself, not its module's name
        def ready(self) -> None:
            pass

    monkeypatch.setattr("agent.ray_eval.UNPLACED_SECONDS", 2.0)
    holders = [ray.remote(num_cpus=1)(Holder).remote() for _ in range(2)]  # every CPU of the runtime
    ray.get([holder.ready.remote() for holder in holders])
    try:
        summary = evaluate([BY_NAME["form_name"]], tmp_path / "eval", ModelOptions("local"), workers=1, ray="")
    finally:
        for holder in holders:
            ray.kill(holder)

    assert summary["results"][0]["status"] == "worker_lost", summary["results"]
    assert summary["results"][0]["detail"].startswith("no desk could be placed or answered for 2 s")


def test_ctrl_c_ends_every_desk_and_leaves_no_xvfb_and_no_ray(programs, tmp_path):  # noqa: F811
    xvfbs, raylets = desk_xvfbs(), processes("raylet")
    out = tmp_path / "eval"
    process = subprocess.Popen([sys.executable, "-m", "agent", "eval", "--ray", "--workers", "2", "--out", str(out),
                                "form_full", "editor_upper_word", "form_country", "xcalc_clicks", "form_size"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while not list(out.glob("*/episode.jsonl")) and not (desk_xvfbs() - xvfbs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert desk_xvfbs() - xvfbs, "no desk started a task"
    time.sleep(1.0)  # a run under way
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=90)

    assert process.returncode == 130, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and "Traceback" not in output
    assert any(r["status"] in ("not_run", "interrupted") for r in summary["results"]), summary["results"]
    assert not gone(desk_xvfbs() - xvfbs), "Xvfb left behind"
    assert not gone(processes("raylet") - raylets), "Ray left behind"
    assert not list(Path(tempfile.gettempdir()).glob("gui-agent-desk-*")), "a desk's scratch folder was left"


def test_a_runtime_of_its_own_listens_on_127_0_0_1_only(programs, tmp_path):  # noqa: F811
    xvfbs = desk_xvfbs()
    process = subprocess.Popen([sys.executable, "-m", "agent", "eval", "--ray", "--workers", "1", "--out",
                                str(tmp_path / "eval"), "form_name"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    deadline = time.monotonic() + 90
    while not (descendants(process.pid) & (desk_xvfbs() - xvfbs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    sockets = listening(descendants(process.pid) | {process.pid})  # a desk runs its task: all of Ray is up
    output, _ = process.communicate(timeout=90)

    assert {"gcs_server", "raylet"} <= {name for name, _ in sockets}, sockets
    assert [(name, address) for name, address in sockets if not loopback(address)] == []
    assert process.returncode == 0, output


def test_a_cluster_that_does_not_answer_is_a_one_line_error(tmp_path, capsys):
    assert main(["eval", "--ray", "127.0.0.1:1", "form_name", "--out", str(tmp_path / "eval")]) == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert printed.endswith("error: cannot reach the Ray cluster at 127.0.0.1:1: Connection refused; start it with "
                            "`ray start --head`, or drop the address for a runtime on this machine")
    assert not (tmp_path / "eval").exists()


def test_without_ray_the_flag_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if it were not installed
    assert main(["eval", "--ray", "form_name"]) == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert printed == "error: --ray needs Ray, which is not installed: pip install 'gui-agent[ray]'"

