"""`gui-agent sandbox`: a display of the asked size with the demo apps, and nothing left behind."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.scenarios import gui_agent

SANDBOX_PROCESSES = (b"Xvfb", b"openbox", b"sandbox.apps")


def marked_env(env: dict) -> tuple[dict, str]:
    """env with a mark of its own, which every process of the sandbox started with it inherits."""
    mark = f"GUI_AGENT_TEST_MARK={uuid.uuid4().hex}"
    return env | dict([mark.split("=")]), mark


def sandbox_processes(mark: str) -> set[int]:
    """The Xvfb, openbox and demo apps started with this mark: not those of other sandboxes on the machine."""
    pids = set()
    for process in Path("/proc").iterdir():
        try:
            cmdline, environ = (process / "cmdline").read_bytes(), (process / "environ").read_bytes()
        except OSError:  # not a process, or one that has just ended
            continue
        if mark.encode() in environ.split(b"\0") and any(name in cmdline for name in SANDBOX_PROCESSES):
            pids.add(int(process.name))
    return pids


def wait_until_gone(mark: str) -> set[int]:
    deadline = time.monotonic() + 5
    while sandbox_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    return sandbox_processes(mark)


@pytest.fixture
def start_sandbox():
    """Starts `gui-agent sandbox --apps APP` with a mark of its own; kills it after the test if it still runs,
    and its processes die with it."""
    started = []

    def start(app: str) -> tuple[subprocess.Popen, str]:
        env, mark = marked_env(dict(os.environ))
        started.append(subprocess.Popen([sys.executable, "-m", "agent", "sandbox", "--apps", app],
                                        stdout=subprocess.PIPE, text=True, env=env))
        return started[-1], mark

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.xvfb
def test_a_command_runs_inside_the_sandbox_and_everything_is_torn_down():
    env, mark = marked_env(os.environ | {"DISPLAY": ""})
    probe = "import mss, os; m = mss.MSS().monitors[1]; print(os.environ['DISPLAY'], m['width'], m['height'])"
    result = gui_agent("sandbox", "--size", "1024x768", "--apps", "form,editor", "--", sys.executable, "-c", probe,
                       env=env)
    assert result.returncode == 0, result.stderr
    assert "sandbox ready on DISPLAY=:" in result.stdout and "form (record" in result.stdout
    probe_line = next(line for line in result.stdout.splitlines() if line.startswith(":"))
    assert probe_line.split()[1:] == ["1024", "768"]
    assert "form ended with state {" in result.stdout
    assert not sandbox_processes(mark)


@pytest.mark.xvfb
def test_the_interactive_sandbox_prints_what_connects_and_stops_on_sigterm_with_no_process_left(start_sandbox,
                                                                                                  tmp_path):
    process, mark = start_sandbox("editor")
    assert "sandbox ready" in process.stdout.readline()
    export = process.stdout.readline().split("export ", 1)[1].split()
    files = process.stdout.readline().split("files the apps save go to ", 1)[1].split()[0]
    assert len(sandbox_processes(mark)) == 3  # Xvfb, openbox, the editor
    editor = next(pid for pid in sandbox_processes(mark)
                  if b"sandbox.apps.editor" in Path(f"/proc/{pid}/cmdline").read_bytes())
    assert os.readlink(f"/proc/{editor}/cwd") == files  # its Save As writes there, not into the caller's folder

    bare = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}  # no ~/.Xauthority to fall back on
    as_printed = bare | dict(variable.split("=", 1) for variable in export)
    assert subprocess.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], env=as_printed,
                          capture_output=True).returncode == 0
    display_only = bare | {"DISPLAY": as_printed["DISPLAY"]}
    assert subprocess.run(["xprop", "-root"], env=display_only, capture_output=True).returncode != 0
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert not wait_until_gone(mark)


def test_a_bad_size_is_a_one_line_usage_error():
    result = gui_agent("sandbox", "--size", "big", env=dict(os.environ))
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
        "gui-agent sandbox: error: argument --size: 'big' is not WIDTHxHEIGHT, e.g. 1366x768")


def test_an_xvfb_that_does_not_start_is_a_one_line_error_with_what_it_said():
    result = gui_agent("sandbox", "--apps", "form", "--", "true", env=dict(os.environ))  # the refusing Xvfb
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    assert (result.stdout + result.stderr).strip() == (
        "error: Xvfb did not start: this test starts an X server: mark it xvfb (tests/conftest.py)")


def test_run_without_a_display_is_a_one_line_error():
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = gui_agent("run", "do it", "--base-url", "http://127.0.0.1:9/v1", env=env)
    assert result.returncode == 1
    assert result.stdout.strip() == ("error: no display: set $DISPLAY or pass --display "
                                     "(start one with `gui-agent sandbox`)")


@pytest.mark.xvfb
def test_a_sandbox_killed_with_sigkill_leaves_no_process_behind(start_sandbox):
    """Nothing can clean up after SIGKILL: the children die with their parent (PR_SET_PDEATHSIG)."""
    process, mark = start_sandbox("form")
    assert "sandbox ready" in process.stdout.readline()
    assert len(sandbox_processes(mark)) == 3  # Xvfb, openbox, the form
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not wait_until_gone(mark)
