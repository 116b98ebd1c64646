"""`gui-agent eval --ray [ADDRESS]`: the task suite on Ray, one actor per desktop slot, one Ray task
per task run.

Each actor (a `Desk`) keeps a warm `gui-agent serve-runs` worker (imports and OCR engine loaded)
from one task to the next, and gives each task a fresh Xvfb on its own node. It writes the task's
folder in a scratch folder of its node and hands it back as a tar archive, which the driver unpacks
into OUT: the driver's OUT ends up as a local run's, shared file system or not. A desk that dies
(its process killed, its node lost) or outlives a task's time by far is replaced, and its task is
tried once more on a desk that answers; a second loss counts the task failed with the reason.
Ctrl+C cancels the runs under way (their sandboxes are torn down), then the desks and, for a
runtime of its own, Ray itself end. A runtime of its own listens on 127.0.0.1 only.
"""

import io
import os
import shutil
import socket
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path

from agent.core.errors import AgentError
from agent.task_runs import GRACE_SECONDS, ModelOptions, Runs, Worker, not_run, run_task, skip, unrun

RETRIES = 1  # a task whose desk died is tried once more, on another desk
HUNG_SECONDS = 120.0  # beyond a task's time and the run's grace: its desk is stuck, not busy
CANCEL_SECONDS = 30.0  # how long the runs under way get to end after Ctrl+C
UNPLACED_SECONDS = 300.0  # no desk running a task or answering for so long: the cluster cannot place one
CLOSE_SECONDS = 10.0  # how long the desks get to answer and remove their scratch folders at the end
SCRATCH_PREFIX = "gui-agent-desk-"  # then the desk's process id: a killed desk's folder is removed by the next
SINGLE_MACHINE_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's node address is 127.0.0.1


def import_ray():
    try:
        import ray
    except ImportError:
        raise AgentError("--ray needs Ray, which is not installed: pip install 'gui-agent[ray]'") from None
    return ray


class Desk:
    """One desktop slot on a Ray node (the actor's class). Everything it and its sandboxes write to
    temporary folders goes in its scratch folder, which goes with it, killed or not."""

    def __init__(self, model: ModelOptions):
        self.model, self.worker, self.runs = model, Worker(), Runs()
        self.node_tmp = Path(tempfile.gettempdir())
        remove_dead_desks_scratch(self.node_tmp)
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        tempfile.tempdir = str(self.scratch)  # the sandboxes' folders (XSession's) in it

    def ready(self) -> int:
        """Its process id, once the desk is placed and alive."""
        return os.getpid()

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
        remove_dead_desks_scratch(self.node_tmp)  # those of the desks killed since this one started


def remove_dead_desks_scratch(tmp: Path) -> None:
    """The scratch folders of this node's desks that were killed (their process is gone)."""
    for folder in tmp.glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-")[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def alive(pid: int) -> bool:
    """The process is there and not a zombie (a killed desk whose node's raylet has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def remove_scratch_of(pids: set[int]) -> None:
    """The scratch folders of a runtime of its own's desks that were killed before they removed
    them (all on this machine), once their processes have ended."""
    deadline = time.monotonic() + CLOSE_SECONDS
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    remove_dead_desks_scratch(Path(tempfile.gettempdir()))


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
                         "start it with `ray start --head`, "
                         "or drop the address for a runtime on this machine") from None


def start_ray(ray, address: str | None) -> None:
    """Connects to the cluster at `address`, or starts a runtime of its own on this machine, whose
    every port is on 127.0.0.1."""
    import logging

    reachable(address)
    try:
        with loopback_only(ray) if address is None else nullcontext():
            ray.init(address=address, num_cpus=None if address else os.cpu_count(), include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if address is None:
            raise AgentError(f"cannot start Ray on this machine: {reason}") from None
        token = "" if os.environ.get("RAY_AUTH_MODE") == "token" else (
            "; a cluster with token authentication needs RAY_AUTH_MODE=token here too, and its token "
            "(in ~/.ray/auth_token, or the file RAY_AUTH_TOKEN_PATH names)")
        raise AgentError(f"cannot reach the Ray cluster at {address}: {reason}; start it with `ray start "
                         f"--head`, or drop the address for a runtime on this machine{token}") from None


@contextmanager
def loopback_only(ray):
    """Ray's single-machine mode while a runtime starts: its node's address is 127.0.0.1, and so is
    every port its processes listen on. On Linux Ray otherwise takes the machine's outward address
    and listens on all interfaces (`_node_ip_address="127.0.0.1"` is turned into that address too).
    Ray reads the switch at import: from the environment in the processes it starts, from its
    constants module in this one."""
    from ray._private import ray_constants

    saved = os.environ.get(SINGLE_MACHINE_SWITCH), getattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    os.environ[SINGLE_MACHINE_SWITCH], ray_constants.ENABLE_RAY_CLUSTER = "0", False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved[1]
        if saved[0] is None:
            os.environ.pop(SINGLE_MACHINE_SWITCH, None)
        else:
            os.environ[SINGLE_MACHINE_SWITCH] = saved[0]


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
            elif member.isfile() and (source := archive.extractfile(member)) is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                with source, open(target, "wb") as copy:
                    shutil.copyfileobj(source, copy)


class Desks:
    """An evaluation's desks: starting (not yet answering: being placed, or checked again), idle, or
    running a task. A desk that dies is replaced, and the idle ones are checked before they get a
    task again: a lost node takes its idle desks with it, and a task should not spend its second
    attempt on a desk that is already gone."""

    def __init__(self, ray, model: ModelOptions, count: int):
        self.ray, self.model = ray, model
        self.actor = ray.remote(num_cpus=1, max_concurrency=2)(Desk)  # 2: cancel() while run() is under way
        self.starting: dict = {}  # a desk's ready() ref: the desk
        self.idle: list = []
        self.under_way: dict = {}  # a run's ref: (desk, task index, attempt, deadline)
        self.progress = time.monotonic()  # when a run last ended or a desk last answered
        self.pids: set[int] = set()  # of every desk that answered
        for _ in range(count):
            self.check(self.actor.remote(model))

    def check(self, desk) -> None:
        self.starting[desk.ready.remote()] = desk

    def run(self, task, index: int, attempt: int) -> None:
        desk = self.idle.pop()
        deadline = time.monotonic() + task.max_seconds + GRACE_SECONDS + HUNG_SECONDS
        self.under_way[desk.run.remote(task)] = (desk, index, attempt, deadline)

    def stalled(self) -> bool:
        """None is running or free, and none has answered for UNPLACED_SECONDS: none can be placed,
        or they die as they start."""
        return not self.idle and not self.under_way and time.monotonic() - self.progress > UNPLACED_SECONDS

    def ended(self, timeout: float) -> list[tuple[int, int, tuple | Exception]]:
        """The runs that ended within `timeout`: (task index, attempt, (result, archive) or the
        RayError of its lost desk)."""
        done, _ = self.ray.wait([*self.under_way, *self.starting], num_returns=1, timeout=timeout)
        ended = []
        for ref in done:
            if ref in self.starting:
                if isinstance(pid := self.answer(ref, self.starting.pop(ref)), int):
                    self.pids.add(pid)
                continue
            desk, index, attempt, _ = self.under_way.pop(ref)
            self.progress = time.monotonic()
            ended.append((index, attempt, self.answer(ref, desk)))
        for desk, *_, deadline in self.under_way.values():
            if time.monotonic() > deadline:
                self.ray.kill(desk)  # its run then ends in a RayError above: replaced, and its task retried
        return ended

    def answer(self, ref, desk):
        """What the desk sent, the desk idle again; or the RayError of its death, the desk replaced."""
        try:
            value = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:  # the desk died (killed, node lost, out of memory)
            self.lost(desk)
            return error
        self.idle.append(desk)
        self.progress = time.monotonic()
        return value

    def lost(self, desk) -> None:
        self.ray.kill(desk)
        self.check(self.actor.remote(self.model))
        for idle in self.idle:
            self.check(idle)
        self.idle.clear()

    def close(self) -> None:
        """The desks that answer close (their warm workers, scratch folders, and those of the desks
        killed before them); then every desk ends."""
        ready, _ = self.ray.wait(list(self.starting), num_returns=len(self.starting), timeout=CLOSE_SECONDS)
        answering = self.idle + [self.starting[ref] for ref in ready]
        closed = [desk.close.remote() for desk in answering]
        self.ray.wait(closed, num_returns=len(closed), timeout=CLOSE_SECONDS)
        for desk in [*answering, *self.starting.values(), *(desk for desk, *_ in self.under_way.values())]:
            self.ray.kill(desk)


def evaluate_on_ray(tasks: list, out: Path, model: ModelOptions, address: str | None, desks: int | None,
                    on_start: Callable, on_result: Callable, runs: Runs) -> tuple[list[dict], int]:
    """The tasks' results in suite order (their folders in OUT) and how many desks ran them.
    `address`: a cluster's (None: a runtime of its own, sized to this machine); `desks`: how many
    at a time (None: one per CPU)."""
    ray = import_ray()
    own_runtime = not ray.is_initialized()
    if own_runtime:
        start_ray(ray, address)
    results: list[dict | None] = [skip(task, model) for task in tasks]  # decided here, not sent anywhere
    for result in filter(None, results):
        on_result(result)
    waiting = deque((index, 0) for index, result in enumerate(results) if result is None)
    count = min(desks or max(1, int(ray.cluster_resources().get("CPU", 1))), max(1, len(waiting)))
    pool = Desks(ray, model, count)

    def ended(index: int, result: dict, archive: bytes) -> None:
        if archive:
            unpack(archive, out / tasks[index].name)
        results[index] = result
        on_result(result)

    try:
        while waiting or pool.under_way:
            while waiting and pool.idle and not runs.cancelled.is_set():
                index, attempt = waiting.popleft()
                on_start(tasks[index])
                pool.run(tasks[index], index, attempt)
            if runs.cancelled.is_set() and not pool.under_way:
                break
            if waiting and pool.stalled():
                for index, _attempt in waiting:
                    ended(index, no_desk(tasks[index]), b"")
                break
            for index, attempt, outcome in pool.ended(timeout=1.0):
                if not isinstance(outcome, Exception):
                    ended(index, outcome[0] | ({"attempts": attempt + 1} if attempt else {}), outcome[1])
                elif attempt < RETRIES and not runs.cancelled.is_set():
                    waiting.appendleft((index, attempt + 1))
                else:
                    ended(index, lost(tasks[index], outcome), b"")
    except KeyboardInterrupt:
        runs.cancel()
        for desk, *_ in pool.under_way.values():
            desk.cancel.remote()
        for index, result, archive in finish(ray, pool):
            ended(index, result, archive)
    finally:
        pool.close()
        if own_runtime:
            ray.shutdown()
            remove_scratch_of(pool.pids)
    return [result or not_run(task) for task, result in zip(tasks, results)], count


def finish(ray, pool: Desks) -> list[tuple[int, dict, bytes]]:
    """The runs cancelled after Ctrl+C end as `interrupted`: (task index, result, archive) of those
    that come back within CANCEL_SECONDS; their desks idle again."""
    ready, _ = ray.wait(list(pool.under_way), num_returns=len(pool.under_way), timeout=CANCEL_SECONDS)
    finished = []
    for ref in ready:
        desk, index, *_ = pool.under_way.pop(ref)
        try:
            finished.append((index, *ray.get(ref)))
        except ray.exceptions.RayError:
            ray.kill(desk)
            continue
        pool.idle.append(desk)
    return finished


def lost(task, error: Exception) -> dict:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return unrun(task, "worker_lost", passed=False, detail=f"its desk was lost {RETRIES + 1} times "
                 f"({type(error).__name__}: {reason[:200]})") | {"attempts": RETRIES + 1}


def no_desk(task) -> dict:
    return unrun(task, "worker_lost", passed=False, detail=f"no desk could be placed or answered for "
                 f"{UNPLACED_SECONDS:g} s: the cluster has no free CPU, or its desks die as they start")
