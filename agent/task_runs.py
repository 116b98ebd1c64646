"""One task of the suite in a fresh Xvfb display of its own, run through the real `gui-agent run` by a
warm worker process (`gui-agent serve-runs`) that keeps its imports and OCR engine loaded from one
task to the next: what `agent.evaluate` runs on this machine and `agent.ray_eval` on Ray's desks."""

import json
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from agent.core.defaults import Status
from agent.core.episode import read_episode, replace_file
from agent.core.errors import AgentError

GRACE_SECONDS = 60.0  # beyond a task's own time limit: the CLI's start-up and report
PASSED = "the end state is the one asked for"
NOT_PASSED = "the end state is not the one asked for"


@dataclass(frozen=True)
class ModelOptions:
    """How each run is planned: passed through to `gui-agent run`."""

    model: str = "local"
    base_url: str | None = None
    api_key: str | None = None  # handed over in the environment, never on a command line or on disk
    run_args: tuple[str, ...] = ()  # more `gui-agent run` options, e.g. --no-thinking

    @property
    def local(self) -> bool:
        return self.model == "local"


class Runs:
    """The `gui-agent run` processes under way, so that an interrupted evaluation can stop them."""

    def __init__(self):
        self.cancelled = threading.Event()
        self._processes: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def add(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._processes.add(process)
        if self.cancelled.is_set():
            process.terminate()

    def discard(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._processes.discard(process)

    def cancel(self) -> None:
        """Runs under way end as `interrupted` (SIGTERM), tasks not started are not run."""
        self.cancelled.set()
        with self._lock:
            for process in self._processes:
                process.terminate()


def run_task(task, out: Path, model: ModelOptions, runs: Runs | None = None,
             on_view: Callable[[str, str], None] | None = None, worker: "Worker | None" = None) -> dict:
    """One task in its own sandbox, run by `worker` (by default one of its own); always a result,
    whatever breaks."""
    from sandbox.session import XSession
    from sandbox.tasks import EndState, start
    from sandbox.view import LiveView

    result = unrun(task, Status.ERROR, passed=False)
    if skipped := skip(task, model):
        return skipped
    runs = runs or Runs()
    if worker is None:
        worker = Worker()
        try:
            return run_task(task, out, model, runs, on_view, worker)
        finally:
            worker.close()
    if runs.cancelled.is_set():
        return not_run(task)
    folder = Path(out, task.name).resolve()  # handed to the run and the app, which work in folders of their own
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with XSession(*task.size) as session, \
                (LiveView(session.display, session.xauthority) if on_view else nullcontext()) as view:
            if view and on_view:
                on_view(task.name, view.url)
            try:
                app = start(task, session, folder / "work")
            except Exception as error:  # an app that cannot start fails its task only
                return result | {"status": "app_error", "detail": f"the app did not start: {error}"}
            result |= run_agent(task, folder, session, model, runs, worker)
            result |= check_end(task, EndState(folder / "work", session.env, app), folder)
            if app.record_path and app.record_path.exists():
                shutil.copy(app.record_path, folder / "record.json")
    except Exception as error:  # the sandbox itself failed: this task fails, the rest go on
        result |= {"passed": False, "status": "sandbox_error", "detail": f"{type(error).__name__}: {error}"}
    return result


def check_end(task, end_state, folder: Path) -> dict:
    """The checker's verdict on the end state, kept in the task's folder and put at the top of the
    run's report (which the run wrote before anything had checked it)."""
    try:
        passed = bool(task.check(end_state))
        message = PASSED if passed else NOT_PASSED
    except Exception as error:  # a broken checker fails its task only
        passed, message = False, f"the checker raised {type(error).__name__}: {error}"
    keep_check(folder, passed, message)
    return {"passed": passed, "check": message}


def keep_check(folder: Path, passed: bool, message: str) -> None:
    """The verdict in CHECK_FILE, and the report written again with it, if the run wrote one; a
    verdict that cannot be kept there is still the result's."""
    from agent.reports import CHECK_FILE, write_report

    try:
        verdict = {"passed": passed, "message": message}
        replace_file(folder / CHECK_FILE, json.dumps(verdict, ensure_ascii=False).encode("utf-8"))
        if (folder / "report.html").is_file():
            write_report(folder)
    except (OSError, AgentError):
        pass


def unrun(task, status: str, passed: bool | None, detail: str | None = None) -> dict:
    """A task's result with nothing run yet, or nothing at all: no steps, no time, no tokens."""
    return {"task": task.name, "app": task.app, "passed": passed, "status": status, "steps": 0, "seconds": 0.0,
            "tokens": 0, **({"detail": detail} if detail else {})}


def not_run(task) -> dict:
    return unrun(task, "not_run", passed=None, detail="the evaluation was interrupted")


def skip(task, model: ModelOptions) -> dict | None:
    """The result of a task this model cannot run (a model-only task with the embedded planner), else None."""
    if task.model_only and model.local:
        return unrun(task, "skipped", passed=None, detail="model-only: the embedded planner's forms cannot express it")
    return None


def run_agent(task, folder: Path, session, model: ModelOptions, runs: Runs, worker: "Worker") -> dict:
    """`gui-agent run` on the session's display, in a warm worker; the status, steps, tokens and time
    it ended with."""
    argv = ["run", task.instruction, "--model", model.model,
            *(["--base-url", model.base_url] if model.base_url else []),
            "--display", session.display, "--out", str(folder), "--max-steps", str(task.max_steps),
            "--max-seconds", str(task.max_seconds),
            "--yes",  # nobody is there to answer, and the sandbox is thrown away
            *model.run_args]
    env = session.env | ({"GUI_AGENT_API_KEY": model.api_key} if model.api_key else {})
    started = time.monotonic()
    exit_code = worker.run(argv, env, folder / "agent.log", task.max_seconds + GRACE_SECONDS, runs)
    fields = {"seconds": round(time.monotonic() - started, 2), "exit_code": exit_code}
    try:
        end = read_episode(folder).end
    except AgentError:
        end = None
    if end:
        return fields | {"status": end["status"], "steps": end.get("steps", 0), "tokens": end.get("tokens", 0),
                         **({"detail": end["message"]} if end.get("message") else {})}
    if exit_code is None:
        return fields | {"status": "timeout", "detail": f"killed after {task.max_seconds + GRACE_SECONDS:g} s"}
    return fields | {"status": "crashed", "detail": last_line(folder / "agent.log") or f"exit code {exit_code}"}


class Worker:
    """A warm `gui-agent serve-runs` process that runs one task's `gui-agent run` after another, so a
    task pays no interpreter start-up and no cold OCR engine; started again after a run it had to kill."""

    def __init__(self):
        self.process: subprocess.Popen | None = None

    def run(self, argv: list[str], env: dict, log: Path, timeout: float, runs: Runs) -> int | None:
        """The run's exit code; None when it outlived `timeout` and was killed."""
        from sandbox.session import PROJECT_ROOT

        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([sys.executable, "-m", "agent", "serve-runs"], cwd=PROJECT_ROOT,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        process = self.process
        assert process.stdin and process.stdout  # opened as pipes
        runs.add(process)
        try:
            process.stdin.write(json.dumps({"argv": argv, "env": env, "log": str(log)}) + "\n")
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], timeout)
            reply = process.stdout.readline() if ready else None
        except OSError:  # it died before it took the job
            reply = ""
        finally:
            runs.discard(process)
        if reply is None:
            self.close(kill=True)
            return None
        if not reply:  # it died during the run
            self.close(kill=True)
            return process.returncode
        return json.loads(reply)["exit_code"]

    def close(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        elif self.process.stdin:
            self.process.stdin.close()  # the end of its input: it ends
        self.process.wait()
        self.process = None


def last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")
