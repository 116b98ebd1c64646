"""`gui-agent eval --ray [ADDRESS]`: the task suite on Ray, one actor per desktop slot, one Ray task
per task run.

Each actor (a `Desk`) keeps a warm `gui-agent serve-runs` worker (imports and OCR engine loaded)
from one task to the next, and gives each task a fresh Xvfb on its own node. It writes the task's
folder in a scratch folder of its node and hands it back as a tar archive, which the driver unpacks
into OUT: the driver's OUT ends up as a local run's, shared file system or not. A desk that dies
(its process killed, its node lost) or outlives a task's time by far is replaced, and its task is
tried once more on another desk; a second loss counts the task failed with the reason. Ctrl+C
cancels the runs under way (their sandboxes are torn down), then the desks and, for a runtime of
its own, Ray itself end.
"""

import io
import os
import shutil
import socket
import tarfile
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Callable

from agent.core.errors import AgentError
from agent.task_runs import GRACE_SECONDS, ModelOptions, Runs, Worker, not_run, run_task, skip, unrun

RETRIES = 1  # a task whose desk died is tried once more, on another desk
HUNG_SECONDS = 120.0  # beyond a task's time and the run's grace: its desk is stuck, not busy
CANCEL_SECONDS = 30.0  # how long the runs under way get to end after Ctrl+C
SCRATCH_PREFIX = "gui-agent-desk-"  # then the desk's process id: a killed desk's folder is removed by the next


def import_ray():
    try:
        import ray
    except ImportError:
        raise AgentError("--ray needs Ray, which is not installed: pip install 'gui-agent[ray]'") from None
    return ray


class Desk:
    """One desktop slot on a Ray node (the actor's class)."""

    def __init__(self, model: ModelOptions):
        self.model, self.worker, self.runs = model, Worker(), Runs()
        remove_dead_desks_scratch()
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))

    def run(self, task) -> tuple[dict, bytes]:
        """The task's result and its folder as a tar archive."""
        result = run_task(task, self.scratch, self.model, self.runs, None, self.worker)
        folder = self.scratch / task.name
        archive = pack(folder) if folder.is_dir() else b""
        shutil.rmtree(folder, ignore_errors=True)
        return result, archive

    def cancel(self) -> None:
        self.runs.cancel()

    def close(self) -> None:
        self.worker.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def remove_dead_desks_scratch() -> None:
    """The scratch folders of this node's desks that were killed (their process is gone)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def reachable(address: str | None) -> None:
    """A cluster's HOST:PORT answers, or a one-line error now (Ray itself would retry for a minute,
    logging as it goes)."""
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as error:
        raise AgentError(f"cannot reach the Ray cluster at {address}: {getattr(error, 'strerror', None) or error}; "
                         "start it with `ray start --head`, or drop the address for a runtime on this machine") from None


def pack(folder: Path) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:  # PNGs are compressed already
        archive.add(folder, arcname=".")
    return data.getvalue()


def unpack(data: bytes, folder: Path) -> None:
    """A desk's archive into `folder`: plain files and folders only, each inside it."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            target = (root / member.name).resolve()
            if target != root and root not in target.parents:
                raise AgentError(f"a desk sent {member.name!r}, which is outside its task's folder")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as source, open(target, "wb") as copy:
                    shutil.copyfileobj(source, copy)


def evaluate_on_ray(tasks: list, out: Path, model: ModelOptions, address: str | None, desks: int | None,
                    on_start: Callable, on_result: Callable, runs: Runs) -> tuple[list[dict], int]:
    """The tasks' results in suite order (their folders in OUT) and how many desks ran them.
    `address`: a cluster's (None: a runtime of its own, sized to this machine); `desks`: how many
    at a time (None: one per CPU)."""
    ray = import_ray()
    import logging

    own_runtime = not ray.is_initialized()
    if own_runtime:
        reachable(address)
        try:
            ray.init(address=address, num_cpus=None if address else os.cpu_count(), include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
        except (ConnectionError, RuntimeError, ValueError) as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            if address is None:
                raise AgentError(f"cannot start Ray on this machine: {reason}") from None
            raise AgentError(f"cannot reach the Ray cluster at {address}: {reason}; start it with `ray start "
                             "--head`, or drop the address for a runtime on this machine") from None
    results: list[dict | None] = [skip(task, model) for task in tasks]  # decided here, not sent anywhere
    for result in filter(None, results):
        on_result(result)
    waiting = deque((index, 0) for index, result in enumerate(results) if result is None)
    remote_desk = ray.remote(num_cpus=1, max_concurrency=2)(Desk)  # 2: cancel() while run() is under way
    count = min(desks or max(1, int(ray.cluster_resources().get("CPU", 1))), max(1, len(waiting)))
    idle = [remote_desk.remote(model) for _ in range(count)]
    under_way: dict = {}  # the run's object ref: (desk, task index, attempt, deadline)
    try:
        while waiting or under_way:
            while waiting and idle and not runs.cancelled.is_set():
                index, attempt = waiting.popleft()
                desk, task = idle.pop(), tasks[index]
                on_start(task)
                deadline = time.monotonic() + task.max_seconds + GRACE_SECONDS + HUNG_SECONDS
                under_way[desk.run.remote(task)] = (desk, index, attempt, deadline)
            if runs.cancelled.is_set() and not under_way:
                break
            done, _ = ray.wait(list(under_way), num_returns=1, timeout=1.0)
            for ref in done:
                desk, index, attempt, _ = under_way.pop(ref)
                try:
                    result, archive = ray.get(ref)
                except ray.exceptions.RayError as error:  # the desk died (killed, node lost, out of memory)
                    ray.kill(desk)
                    idle.append(remote_desk.remote(model))
                    if attempt < RETRIES and not runs.cancelled.is_set():
                        waiting.appendleft((index, attempt + 1))
                        continue
                    result, archive = lost(tasks[index], error), b""
                else:
                    idle.append(desk)
                if archive:
                    unpack(archive, out / tasks[index].name)
                results[index] = result | ({"attempts": attempt + 1} if attempt else {})
                on_result(results[index])
            for ref, (desk, *_, deadline) in list(under_way.items()):
                if time.monotonic() > deadline:
                    ray.kill(desk)  # its run then raises RayError above: replaced and retried
    except KeyboardInterrupt:
        runs.cancel()
        for desk, *_ in under_way.values():
            desk.cancel.remote()
        idle += finish(ray, under_way, results, tasks, out)
    finally:
        closed = [desk.close.remote() for desk in idle]  # their warm workers and scratch folders
        ray.wait(closed, num_returns=len(closed), timeout=10)
        for desk in idle + [desk for desk, *_ in under_way.values()]:
            ray.kill(desk)
        if own_runtime:
            ray.shutdown()
    return [result or not_run(task) for task, result in zip(tasks, results)], count


def finish(ray, under_way: dict, results: list, tasks: list, out: Path) -> list:
    """The runs cancelled after Ctrl+C end as `interrupted`: their results and folders, as far as
    they come back within CANCEL_SECONDS. The desks that sent them, idle again."""
    ready, _ = ray.wait(list(under_way), num_returns=len(under_way), timeout=CANCEL_SECONDS)
    idle = []
    for ref in ready:
        desk, index, *_ = under_way.pop(ref)
        try:
            results[index], archive = ray.get(ref)
        except ray.exceptions.RayError:
            continue
        idle.append(desk)
        if archive:
            unpack(archive, out / tasks[index].name)
    return idle


def lost(task, error: Exception) -> dict:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return unrun(task, "worker_lost", passed=False, detail=f"its desk was lost {RETRIES + 1} times "
                 f"({type(error).__name__}: {reason[:200]})") | {"attempts": RETRIES + 1}
