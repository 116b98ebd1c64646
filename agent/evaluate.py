"""Runs the task suite (sandbox/tasks): each task in a fresh Xvfb display, N at a time, through the
real `gui-agent run`, carried out by warm worker processes (one per task at a time) that keep their
imports and OCR engine loaded from one task to the next; `gui-agent eval` runs it.

Writes DIR/summary.json, DIR/report.html (the dashboard, agent.dashboard) and one folder per task:
the episode, agent.log (the run's output), record.json (the demo app's record at the end) and work/
(the app's files). A task passes when its checker, reading the end state, says so, whatever status
the run ended with (which is reported beside it). A task that cannot start, hangs, crashes or whose
checker raises is a failed task; the evaluation goes on. With `--model local` the model-only tasks
are skipped and not counted. Every run gets `--yes`: nobody is there to confirm, and the sandbox is
thrown away.
"""

import json
import shutil
import signal
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from rich.table import Table

from agent.core.console import console, escape
from agent.core.episode import EPISODE_FILE, now_iso, read_episode
from agent.core.errors import AgentError, EpisodeError
from agent.dashboard import write_dashboard

SUMMARY_FILE = "summary.json"
GRACE_SECONDS = 60.0  # beyond a task's own time limit: the CLI's start-up and report


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


def evaluate(tasks: list, out: Path, model: ModelOptions = ModelOptions(), workers: int = 1,
             on_result: Callable[[dict], None] = lambda result: None,
             on_view: Callable[[str, str], None] | None = None) -> dict:
    """Run the tasks, `workers` at a time; write and return the summary. On Ctrl+C (or SIGTERM made
    KeyboardInterrupt) the runs under way are stopped, their sandboxes torn down, and the summary
    of what ran is written with "interrupted": true. With `on_view`, each task's display is served
    to a browser (sandbox.view) and `on_view(task name, URL)` hears where."""
    out = Path(out)
    taken = [t.name for t in tasks if (out / t.name / EPISODE_FILE).exists()]
    if taken:
        raise AgentError(f"{out} already holds episodes of {', '.join(taken)}; choose a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    started, started_at, runs = time.monotonic(), now_iso(), Runs()

    local, warm = threading.local(), []  # one warm worker per thread of the pool

    def one(task) -> dict:
        if not hasattr(local, "worker"):
            local.worker = Worker()
            warm.append(local.worker)
        result = run_task(task, out, model, runs, on_view, local.worker)
        if result["status"] != "not_run":
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, task) for task in tasks]
        while True:
            try:
                wait(futures)
                break
            except KeyboardInterrupt:
                runs.cancel()
    for worker in warm:
        worker.close()
    results = [future.result() for future in futures]
    counted = [r for r in results if r["status"] not in ("skipped", "not_run")]
    summary = {"tasks": len(counted), "passed": sum(r["passed"] for r in counted),
               "skipped": sum(r["status"] == "skipped" for r in results), "model": model.model,
               "workers": workers, "started": started_at, "seconds": round(time.monotonic() - started, 2),
               **({"interrupted": True} if runs.cancelled.is_set() else {}), "results": results}
    write_summary(out, summary)
    try:
        write_dashboard(out, summary)
    except (OSError, EpisodeError) as error:  # the summary stands without its page
        summary["dashboard_error"] = str(error)
        write_summary(out, summary)
    return summary


def write_summary(out: Path, summary: dict) -> None:
    (out / SUMMARY_FILE).write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")


def run_task(task, out: Path, model: ModelOptions, runs: Runs | None = None,
             on_view: Callable[[str, str], None] | None = None, worker: "Worker | None" = None) -> dict:
    """One task in its own sandbox, run by `worker` (by default one of its own); always a result,
    whatever breaks."""
    from sandbox.session import XSession
    from sandbox.tasks import EndState, start
    from sandbox.view import LiveView

    result = {"task": task.name, "app": task.app, "passed": False, "status": "error", "steps": 0,
              "seconds": 0.0, "tokens": 0}
    if task.model_only and model.local:
        return result | {"passed": None, "status": "skipped",
                         "detail": "model-only: the embedded planner's forms cannot express it"}
    runs = runs or Runs()
    if worker is None:
        worker = Worker()
        try:
            return run_task(task, out, model, runs, on_view, worker)
        finally:
            worker.close()
    if runs.cancelled.is_set():
        return result | {"passed": None, "status": "not_run", "detail": "the evaluation was interrupted"}
    folder = out / task.name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with XSession(*task.size) as session, \
                (LiveView(session.display, session.xauthority) if on_view else nullcontext()) as view:
            if view:
                on_view(task.name, view.url)
            try:
                app = start(task, session, folder / "work")
            except Exception as error:  # an app that cannot start fails its task only
                return result | {"status": "app_error", "detail": f"the app did not start: {error}"}
            result |= run_agent(task, folder, session, model, runs, worker)
            try:
                result["passed"] = bool(task.check(EndState(folder / "work", session.env, app)))
            except Exception as error:  # a broken checker fails its task only
                result |= {"passed": False, "detail": f"the checker raised {type(error).__name__}: {error}"}
            if app.record_path and app.record_path.exists():
                shutil.copy(app.record_path, folder / "record.json")
    except Exception as error:  # the sandbox itself failed: this task fails, the rest go on
        result |= {"passed": False, "status": "sandbox_error", "detail": f"{type(error).__name__}: {error}"}
    return result


def run_agent(task, folder: Path, session, model: ModelOptions, runs: Runs, worker: "Worker") -> dict:
    """`gui-agent run` on the session's display, in a warm worker; the status, steps, tokens and time
    it ended with."""
    argv = ["run", task.instruction, "--model", model.model, *(["--base-url", model.base_url] if model.base_url else []),
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
        else:
            self.process.stdin.close()  # the end of its input: it ends
        self.process.wait()
        self.process = None


def last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")


# -- showing it ---------------------------------------------------------------------------------

def verdict(result: dict) -> str:
    if result["status"] in ("skipped", "not_run"):
        return f"[dim]{result['status'].replace('_', ' ')}[/dim]"
    return "[green]pass[/green]" if result["passed"] else "[red]FAIL[/red]"


def print_result(result: dict) -> None:
    console.print(f"{verdict(result)} {result['task']}: {result['status']}, {result['steps']} steps, "
                  f"{result['seconds']:.1f} s", highlight=False)


def summary_table(summary: dict) -> Table:
    table = Table(title=f"{summary['model']}: {summary['passed']}/{summary['tasks']} passed"
                        + (f", {summary['skipped']} skipped" if summary["skipped"] else ""))
    for column in ("task", "app", "result", "status", "steps", "seconds", "tokens"):
        table.add_column(column, justify="right" if column in ("steps", "seconds", "tokens") else "left", no_wrap=True)
    for r in summary["results"]:
        table.add_row(r["task"], r["app"], verdict(r), r["status"], str(r["steps"]), f"{r['seconds']:.1f}",
                      str(r["tokens"]))
    return table


def print_summary(summary: dict, out: Path | None = None) -> None:
    console.print(summary_table(summary))
    for r in summary["results"]:
        if r["passed"] is False:
            console.print(f"[red]{r['task']}[/red]: {r['status']}"
                          + (f": {escape(r['detail'])}" if r.get("detail") else ", the end state is not the one asked for"))
    rate = f" ({100 * summary['passed'] / summary['tasks']:.0f}%)" if summary["tasks"] else ""
    console.print(f"{summary['passed']} of {summary['tasks']} tasks passed{rate}, {summary['skipped']} skipped, "
                  f"{summary['seconds']:.0f} s with {summary['workers']} worker(s)"
                  + (" (interrupted: tasks not run are not counted)" if summary.get("interrupted") else "")
                  + (f"; episodes and {SUMMARY_FILE} in {out}" if out else ""), highlight=False)
    if out:
        console.print(f"no dashboard: {escape(summary['dashboard_error'])}" if summary.get("dashboard_error")
                      else f"dashboard: {escape(str(out / 'report.html'))}", highlight=False)


# -- the command --------------------------------------------------------------------------------

def run_suite(names: list[str], model: str, base_url: str | None, api_key: str | None, workers: int,
              out: Path | None, view: bool, run_args: list[str]) -> int:
    """`gui-agent eval`: the tasks named (all by default), printed as they end; the exit code."""
    from sandbox.tasks import load_tasks

    tasks = load_tasks(names or None)
    out = out or Path("runs") / datetime.now().strftime("eval-%Y%m%d-%H%M%S")
    console.print(f"{len(tasks)} task(s), {workers} at a time, model {model}; out: {out}")
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    summary = evaluate(tasks, out, ModelOptions(model, base_url, api_key, tuple(run_args)), workers,
                       on_result=print_result,
                       on_view=(lambda name, url: console.print(f"view: {url} ({name})")) if view else None)
    print_summary(summary, out)
    if summary.get("interrupted"):
        return 130
    return 0 if summary["passed"] == summary["tasks"] else 1


def interrupt_on_sigterm(signum, frame):
    raise KeyboardInterrupt
