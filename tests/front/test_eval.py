"""The task suite (sandbox/tasks) and `agent.evaluate`: the tasks are well formed; an evaluation runs
each task in its own Xvfb display through `gui-agent run`, writes its summary and episodes, fails
(and goes past) a task whose app crashes or whose checker raises, skips model-only tasks with the
embedded planner, and runs a model-only task through a model endpoint (the loopback one)."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main
from agent.core.episode import read_episode
from agent.core.errors import InstructionError
from agent.evaluate import ModelOptions, SuiteProgress, evaluate, print_summary
from agent.planners.instructions import parse_instruction
from sandbox.session import PROJECT_ROOT, SandboxError, XSession
from sandbox.tasks import APPS, EndState, load_tasks, start
from tests.front.test_report import field
from tests.support.endpoint import ScriptedEndpoint
from tests.support.scenarios import gui_agent

TASKS = load_tasks()
BY_NAME = {task.name: task for task in TASKS}
RESULT_FIELDS = {"task", "passed", "status", "steps", "seconds", "tokens"}


@pytest.fixture
def programs():
    missing = [p for p in ("Xvfb", "openbox", "xdotool", "xclip", "xterm") if not shutil.which(p)]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run .ci/install, or apt-get install xvfb openbox xdotool xclip "
                    "xterm x11-apps")


def test_the_suite_has_at_least_20_tasks_over_at_least_3_apps():
    assert len(TASKS) >= 20
    assert len({task.app for task in TASKS}) >= 3
    assert {"form", "editor"} <= {task.app for task in TASKS}
    assert {task.app for task in TASKS} - {"form", "editor"}, "a real program too"
    assert sum(task.model_only for task in TASKS) >= 1 and sum(not task.model_only for task in TASKS) >= 15


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.name)
def test_every_task_is_well_formed(task):
    assert task.app in APPS
    assert isinstance(task.max_steps, int) and 1 <= task.max_steps <= 50
    assert callable(task.check) and task.instruction.strip() and task.max_seconds > 0
    if task.model_only:  # the mark is true: the embedded planner refuses it
        with pytest.raises(InstructionError):
            parse_instruction(task.instruction)
    else:
        assert parse_instruction(task.instruction)


def test_no_checker_passes_on_the_start_state(programs, tmp_path):
    """A checker that an agent doing nothing would pass measures nothing."""
    passing = []
    with XSession(1280, 800) as session:
        for task in TASKS:
            app = start(task, session, tmp_path / task.name)
            if task.check(EndState(tmp_path / task.name, session.env, app)):
                passing.append(task.name)
            app.process.terminate()
            app.process.wait(timeout=10)
    assert passing == []


def test_tasks_are_picked_by_name_or_glob_and_an_unknown_name_is_an_error():
    assert [t.name for t in load_tasks(["xterm_echo", "form_n*"])] == ["form_name", "form_nordic", "xterm_echo"]
    with pytest.raises(SandboxError, match="no task matches frobnicate; the tasks are: editor_"):
        load_tasks(["frobnicate"])
    assert main(["eval", "frobnicate", "--out", "/nonexistent/never-written"]) == 1


def test_an_evaluation_runs_two_at_a_time_and_a_broken_task_fails_without_stopping_it(programs, tmp_path, capsys):
    app_crashes = dataclasses.replace(BY_NAME["form_name"], name="app_crashes", geometry="not-a-geometry")
    checker_raises = dataclasses.replace(BY_NAME["xterm_echo"], name="checker_raises", check=lambda end: 1 / 0)
    tasks = [app_crashes, BY_NAME["form_double_click"], checker_raises, BY_NAME["xterm_sum"], BY_NAME["xterm_echo"]]
    out = tmp_path / "eval"
    summary = evaluate(tasks, out, ModelOptions("local"), workers=2)

    assert json.loads((out / "summary.json").read_text()) == summary
    assert (summary["tasks"], summary["passed"], summary["skipped"]) == (4, 2, 1)
    results = {r["task"]: r for r in summary["results"]}
    assert [r["task"] for r in summary["results"]] == [t.name for t in tasks]
    assert all(RESULT_FIELDS <= set(r) for r in summary["results"])
    assert results["app_crashes"]["passed"] is False and results["app_crashes"]["status"] == "app_error"
    assert "form exited" in results["app_crashes"]["detail"]
    assert results["checker_raises"]["passed"] is False and results["checker_raises"]["status"] == "done"
    assert results["checker_raises"]["check"] == "the checker raised ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in field(read_text(out / "checker_raises" / "report.html"), "checker")
    assert results["xterm_sum"]["status"] == "skipped" and results["xterm_sum"]["passed"] is None
    assert not (out / "xterm_sum").exists()
    for name in ("form_double_click", "xterm_echo"):
        assert results[name]["passed"] is True and results[name]["status"] == "done", results[name]
        episode = read_episode(out / name)
        assert episode.end["status"] == "done" and episode.header["planner"] == "local"
        assert results[name]["steps"] == episode.end["steps"] and results[name]["seconds"] > 0
    assert json.loads((out / "form_double_click" / "record.json").read_text())["app"] == "form"
    assert (out / "xterm_echo" / "work" / "greeting.txt").read_text() == "hello\n"

    print_summary(summary, out)
    shown = capsys.readouterr().out
    assert "2 of 4 tasks passed (50%), 1 skipped" in shown and "app_crashes: app_error: the app did not start" in shown
    assert "checker_raises: the checker raised ZeroDivisionError: division by zero (the run: done)" in shown


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_a_model_only_task_runs_against_a_model_endpoint(programs, tmp_path):
    task = BY_NAME["xterm_sum"]
    seen = []

    def first(request):
        seen.append(json.dumps(request["messages"]))
        return "A terminal has the focus. type(content='echo $((17+25)) > sum.txt')\nMemory:\n[]"

    with ScriptedEndpoint([first, "Run it. key(keys='enter')", "The file is written. DONE()"]) as endpoint:
        summary = evaluate([task], tmp_path / "eval", ModelOptions("glm-4.5v", endpoint.url, "sk-eval-secret"))
    assert endpoint.errors == [] and endpoint.exhausted
    result = summary["results"][0]
    assert (summary["tasks"], summary["passed"]) == (1, 1)
    assert result["status"] == "done" and result["steps"] == 3 and result["tokens"] == 3 * 1050
    assert task.instruction in seen[0]
    assert endpoint.headers[0]["authorization"] == "Bearer sk-eval-secret"
    episode = read_episode(tmp_path / "eval" / "xterm_sum")
    assert episode.header["planner"] == "glm" and episode.header["settings"]["model"] == "glm-4.5v"
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "eval").rglob("*") if p.suffix in
                      (".json", ".jsonl", ".log", ".html"))
    assert "sk-eval-secret" not in written


def test_non_ascii_text_arrives_in_a_terminal_and_in_a_tk_form(programs, tmp_path):
    """Pasted through a selection: shift+Insert in xterm (ctrl+v there is bash's quoted-insert), ctrl+v in Tk."""
    summary = evaluate([BY_NAME["xterm_unicode"], BY_NAME["form_unicode"]], tmp_path / "eval", ModelOptions("local"),
                       workers=2)
    assert [(r["task"], r["passed"]) for r in summary["results"]] == [("xterm_unicode", True), ("form_unicode", True)]


@pytest.mark.xvfb
def test_eval_view_prints_each_tasks_view_and_leaves_no_view_server(tmp_path):
    result = gui_agent("eval", "form_double_click", "--view", "--out", str(tmp_path / "eval"), env=dict(os.environ),
                       timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    views = [line for line in result.stdout.splitlines() if line.startswith("view: ")]
    assert len(views) == 1 and views[0].startswith("view: http://127.0.0.1:") and views[0].endswith(
        "(form_double_click)"), result.stdout
    port = views[0].split(":")[3].split("/")[0]  # websockify's, on its command line
    assert not any(port in command_line for command_line in command_lines())


def command_lines() -> list[str]:
    lines = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # ended meanwhile
            pass
    return lines


def test_a_run_that_outlives_its_time_is_killed_and_the_next_task_gets_a_fresh_worker(programs, tmp_path, monkeypatch):
    monkeypatch.setattr("agent.task_runs.GRACE_SECONDS", 2.0)
    hangs = dataclasses.replace(BY_NAME["xterm_sum"], name="hangs", max_seconds=1.0)
    with ScriptedEndpoint([{"fault": "stall", "seconds": 30}, "A terminal. type(content='echo $((17+25)) > sum.txt')",
                           "Run it. key(keys='enter')", "DONE()"]) as endpoint:
        summary = evaluate([hangs, BY_NAME["xterm_sum"]], tmp_path / "eval", ModelOptions("glm-4.5v", endpoint.url),
                           workers=1)
    hung, after = summary["results"]
    assert hung["status"] == "timeout" and hung["passed"] is False and hung["seconds"] < 10, hung
    assert after["status"] == "done" and after["passed"] is True, after


def test_the_progress_bar_counts_done_running_failed_and_the_pass_rate(capsys):
    progress = SuiteProgress(4)
    with progress:
        for task in TASKS[:3]:
            progress.started(task)
        progress.finished({"task": "a", "app": "form", "passed": True, "status": "done", "steps": 2, "seconds": 1.0})
        progress.finished({"task": "b", "app": "form", "passed": False, "status": "done", "steps": 3, "seconds": 1.0})
        progress.finished({"task": "c", "app": "form", "passed": None, "status": "skipped", "steps": 0, "seconds": 0.0})
        bar = progress.progress.tasks[0]
        assert (bar.completed, bar.total) == (3, 4)
        assert bar.fields["tally"] == "· running 1 · failed 1 · passed 50%"
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [line.split(":")[0] for line in lines] == ["pass a", "FAIL b", "skipped c"]  # a line per task as it ends


def test_a_relative_out_folder_from_any_folder_passes_the_editor_tasks(programs, tmp_path):
    """The README's `--out evals/x`, given in a folder that is neither the project's nor a sandbox's:
    the editor saves where the checker looks, and every episode is under that folder. (The editor's
    tasks whose checker reads what it saved; editor_upper_word is left out: its context menu is
    sometimes captured before it is drawn, which has nothing to do with folders.)"""
    saving = [task.name for task in TASKS if task.app == "editor" and not task.model_only and
              task.name not in ("editor_copy_all", "editor_upper_word")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-m", "agent", "eval", *saving, "--out", "evals/x"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    out = tmp_path / "evals" / "x"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [r["task"] for r in summary["results"]] == saving and summary["passed"] == summary["tasks"] == 6
    assert all((out / name / "episode.jsonl").is_file() for name in saving)
    assert (out / "editor_save_as" / "work" / "notes.txt").is_file()
