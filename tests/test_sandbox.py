"""`gui-agent sandbox`: a display of the asked size with the demo apps, and nothing left behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from scenarios import gui_agent

SANDBOX_PROCESSES = ("Xvfb", "openbox", "sandbox.apps")


def sandbox_processes() -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {int(line.split(None, 1)[0]) for line in out.splitlines()
            if any(name in line for name in SANDBOX_PROCESSES) and "pytest" not in line}


def test_a_command_runs_inside_the_sandbox_and_everything_is_torn_down():
    before = sandbox_processes()
    probe = "import mss, os; m = mss.MSS().monitors[1]; print(os.environ['DISPLAY'], m['width'], m['height'])"
    result = gui_agent("sandbox", "--size", "1024x768", "--apps", "form,editor", "--", sys.executable, "-c", probe,
                       env=os.environ | {"DISPLAY": ""})
    assert result.returncode == 0, result.stderr
    assert "sandbox ready on DISPLAY=:" in result.stdout and "form (record" in result.stdout
    probe_line = next(line for line in result.stdout.splitlines() if line.startswith(":"))
    assert probe_line.split()[1:] == ["1024", "768"]
    assert "form ended with state {" in result.stdout
    assert sandbox_processes() <= before


def test_the_interactive_sandbox_prints_what_connects_and_stops_on_sigterm_with_no_process_left(tmp_path):
    before = sandbox_processes()
    process = subprocess.Popen([sys.executable, "-m", "agent", "sandbox", "--apps", "editor"], stdout=subprocess.PIPE,
                               text=True)
    assert "sandbox ready" in process.stdout.readline()
    export = process.stdout.readline().split("export ", 1)[1].split()
    files = process.stdout.readline().split("files the apps save go to ", 1)[1].split()[0]
    assert len(sandbox_processes() - before) == 3  # Xvfb, openbox, the editor
    editor = next(pid for pid in sandbox_processes() - before
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
    deadline = time.monotonic() + 5
    while sandbox_processes() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_processes() <= before


def test_a_bad_size_is_a_one_line_error():
    result = gui_agent("sandbox", "--size", "big", env=dict(os.environ))
    assert result.returncode == 1 and result.stdout.strip() == "error: --size 'big' is not WIDTHxHEIGHT, e.g. 1366x768"


def test_run_without_a_display_is_a_one_line_error():
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = gui_agent("run", "do it", "--base-url", "http://127.0.0.1:9/v1", env=env)
    assert result.returncode == 1
    assert result.stdout.strip() == ("error: no display: set $DISPLAY or pass --display "
                                     "(start one with `gui-agent sandbox`)")


def test_a_sandbox_killed_with_sigkill_leaves_no_process_behind():
    """Nothing can clean up after SIGKILL: the children die with their parent (PR_SET_PDEATHSIG)."""
    before = sandbox_processes()
    process = subprocess.Popen([sys.executable, "-m", "agent", "sandbox", "--apps", "form"], stdout=subprocess.PIPE,
                               text=True)
    assert "sandbox ready" in process.stdout.readline()
    assert len(sandbox_processes() - before) == 3  # Xvfb, openbox, the form
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 5
    while sandbox_processes() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_processes() <= before
