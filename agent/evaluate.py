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
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path

from rich.table import Table

from agent.core.console import console, escape
from agent.core.episode import EPISODE_FILE, now_iso, what_to_do, write_file
from agent.core.errors import AgentError, EpisodeError
from agent.dashboard import write_dashboard
from agent.task_runs import ModelOptions, Runs, Worker, run_task

SUMMARY_FILE = "summary.json"


def evaluate(tasks: list, out: Path, model: ModelOptions = ModelOptions(), workers: int | None = 1,
             on_result: Callable[[dict], None] = lambda result: None,
             on_view: Callable[[str, str], None] | None = None, on_start: Callable = lambda task: None,
             ray: str | None = None) -> dict:
    """Run the tasks, `workers` at a time; write and return the summary. On Ctrl+C (or SIGTERM made
    KeyboardInterrupt) the runs under way are stopped, their sandboxes torn down, and the summary
    of what ran is written with "interrupted": true. With `on_view`, each task's display is served
    to a browser (sandbox.view) and `on_view(task name, URL)` hears where. `on_start(task)` and
    `on_result(result)` hear of each task as it starts and ends. With `ray` ("" for a runtime of
    its own, else a cluster's address) the tasks run on Ray (agent.ray_eval), `workers` at a time
    (None: one per CPU of the cluster)."""
    out = Path(out).resolve()  # the runs and apps work in folders of their own: a relative path would go there
    taken = [t.name for t in tasks if (out / t.name / EPISODE_FILE).exists()]
    if taken:
        raise AgentError(f"{out} already holds episodes of {', '.join(taken)}; choose a new --out folder")
    make_writable_folder(out)
    started, started_at, runs = time.monotonic(), now_iso(), Runs()

    if ray is not None:
        from agent.ray_eval import evaluate_on_ray

        results, workers = evaluate_on_ray(tasks, out, model, ray or None, workers, on_start, on_result, runs)
    else:
        results = evaluate_here(tasks, out, model, workers or 1, on_start, on_result, on_view, runs)
    counted = [r for r in results if r["status"] not in ("skipped", "not_run")]
    summary = {"tasks": len(counted), "passed": sum(r["passed"] for r in counted),
               "skipped": sum(r["status"] == "skipped" for r in results), "model": model.model,
               "workers": workers or 1, **({"ray": ray or "local"} if ray is not None else {}), "started": started_at,
               "seconds": round(time.monotonic() - started, 2),
               **({"interrupted": True} if runs.cancelled.is_set() else {}), "results": results}
    write_summary(out, summary)
    try:
        write_dashboard(out, summary)
    except (OSError, EpisodeError) as error:  # the summary stands without its page
        summary["dashboard_error"] = str(error)
        write_summary(out, summary)
    return summary


def evaluate_here(tasks: list, out: Path, model: ModelOptions, workers: int, on_start: Callable,
                  on_result: Callable, on_view: Callable | None, runs: Runs) -> list[dict]:
    """The tasks on this machine, `workers` at a time: a thread pool, each thread with its warm worker."""
    local, warm = threading.local(), []

    def one(task) -> dict:
        if not hasattr(local, "worker"):
            local.worker = Worker()
            warm.append(local.worker)
        if not runs.cancelled.is_set():
            on_start(task)
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
    return [future.result() for future in futures]


def make_writable_folder(out: Path) -> None:
    """`out`, in which a file can be made, before any task runs; else AgentError saying what to do."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as error:
        raise AgentError(f"cannot write in {out}: {error.strerror}; {what_to_do(error)}") from None


def write_summary(out: Path, summary: dict) -> None:
    write_file(out / SUMMARY_FILE, json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8"))


# -- showing it ---------------------------------------------------------------------------------

def verdict(result: dict) -> str:
    if result["status"] in ("skipped", "not_run"):
        return f"[dim]{result['status'].replace('_', ' ')}[/dim]"
    return "[green]pass[/green]" if result["passed"] else "[red]FAIL[/red]"


def print_result(result: dict) -> None:
    console.print(f"{verdict(result)} {escape(result['task'])}: {escape(result['status'])}, {result['steps']} steps, "
                  f"{result['seconds']:.1f} s" + (f" (attempt {result['attempts']})" if result.get("attempts") else ""),
                  highlight=False)


class SuiteProgress:
    """A progress bar under the per-task lines: done of all, running, failed, the pass rate so far
    and the time left at the pace so far. Drawn on a terminal only; the lines are printed anywhere."""

    def __init__(self, total: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[tally]}"),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True,
                                 disable=not console.is_terminal)
        self.bar = self.progress.add_task("eval", total=total, tally="")
        self.running, self.failed, self.passed, self.counted = 0, 0, 0, 0
        self._lock = threading.Lock()

    def __enter__(self) -> "SuiteProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def started(self, task) -> None:
        with self._lock:
            self.running += 1
            self._show()

    def finished(self, result: dict) -> None:
        with self._lock:
            ran = result["status"] not in ("skipped", "not_run")
            self.running -= ran and self.running > 0
            self.counted += ran
            self.passed += bool(ran and result["passed"])
            self.failed += ran and not result["passed"]
            print_result(result)
            self.progress.advance(self.bar)
            self._show()

    def _show(self) -> None:
        rate = f"{100 * self.passed / self.counted:.0f}%" if self.counted else "–"
        self.progress.update(self.bar, tally=f"· running {self.running} · failed {self.failed} · passed {rate}")


def summary_table(summary: dict) -> Table:
    table = Table(title=f"{summary['model']}: {summary['passed']}/{summary['tasks']} passed"
                        + (f", {summary['skipped']} skipped" if summary["skipped"] else ""))
    for column in ("task", "app", "result", "status", "steps", "seconds", "tokens"):
        table.add_column(column, justify="right" if column in ("steps", "seconds", "tokens") else "left", no_wrap=True)
    for r in summary["results"]:
        table.add_row(r["task"], r["app"], verdict(r), r["status"], str(r["steps"]), f"{r['seconds']:.1f}",
                      str(r["tokens"]))
    return table


def why_failed(result: dict) -> str:
    """A failed task in one line: the checker's verdict, if it ran, then how the run ended."""
    run = result["status"] + (f": {result['detail']}" if result.get("detail") else "")
    return f"{result['check']} (the run: {run})" if result.get("check") else run


def print_summary(summary: dict, out: Path | None = None) -> None:
    console.print(summary_table(summary))
    for r in summary["results"]:
        if r["passed"] is False:
            console.print(f"[red]{escape(r['task'])}[/red]: {escape(why_failed(r))}")
    rate = f" ({100 * summary['passed'] / summary['tasks']:.0f}%)" if summary["tasks"] else ""
    console.print(f"{summary['passed']} of {summary['tasks']} tasks passed{rate}, {summary['skipped']} skipped, "
                  f"{summary['seconds']:.0f} s with {summary['workers']} worker(s)"
                  + (" (interrupted: tasks not run are not counted)" if summary.get("interrupted") else "")
                  + (f"; episodes and {SUMMARY_FILE} in {out}" if out else ""), highlight=False)
    if out:
        console.print(f"no dashboard: {escape(summary['dashboard_error'])}" if summary.get("dashboard_error")
                      else f"dashboard: {escape(str(out / 'report.html'))}", highlight=False)


# -- the command --------------------------------------------------------------------------------

def run_suite(names: list[str], model: str, base_url: str | None, api_key: str | None, workers: int | None,
              out: Path | None, view: bool, run_args: list[str], ray: str | None = None) -> int:
    """`gui-agent eval`: the tasks named (all by default), a progress bar and a line per task as it
    ends; the exit code."""
    from sandbox.tasks import load_tasks

    if ray is not None and view:
        raise AgentError("--view serves a display on 127.0.0.1 of the machine that runs it, which with --ray may "
                         "be another node: use one or the other")
    if ray is not None:
        from agent.ray_eval import import_ray, reachable

        import_ray()  # before any task: says how to install it
        reachable(ray or None)
    tasks = load_tasks(names or None)
    out = (out or Path("runs") / datetime.now().strftime("eval-%Y%m%d-%H%M%S")).resolve()
    where = "" if ray is None else f" on Ray ({ray or 'a runtime on this machine'})"
    at_a_time = workers or (1 if ray is None else "one per CPU")
    console.print(f"{len(tasks)} task(s), {at_a_time} at a time{where}, model {escape(model)}; out: {escape(out)}")
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    with SuiteProgress(len(tasks)) as progress:
        summary = evaluate(tasks, out, ModelOptions(model, base_url, api_key, tuple(run_args)),
                           workers if workers or ray is not None else 1, on_result=progress.finished,
                           on_view=(lambda name, url: console.print(f"view: {url} ({name})")) if view else None,
                           on_start=progress.started, ray=ray)
    print_summary(summary, out)
    if summary.get("interrupted"):
        return 130
    return 0 if summary["passed"] == summary["tasks"] else 1


def interrupt_on_sigterm(signum, frame):
    raise KeyboardInterrupt
