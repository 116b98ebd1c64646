"""The evaluation suite: one module per task in this folder, each defining `TASK`.

A task names the app and its start state, the instruction the agent gets, a step limit and a
checker that reads the end state: the demo app's record file, files in the task's work folder,
the clipboard (xclip) or window titles (xdotool); never a screenshot. Tasks whose instruction the
embedded planner's forms cannot express are `model_only`. `agent.evaluate` runs them.
"""

import importlib
import json
import pkgutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path

from sandbox.session import App, SandboxError, XSession

FORM_GEOMETRY = "700x560+40+30"
EDITOR_GEOMETRY = "720x420+60+40"


@dataclass(frozen=True)
class Task:
    app: str
    """Which app starts in the sandbox: a key of APPS."""
    instruction: str
    """What the agent is told to do."""
    check: Callable[["EndState"], bool]
    """Reads the end state; true when the task was done."""
    max_steps: int = 15
    """The run's step limit (model replies)."""
    args: tuple[str, ...] = ()
    """The app's extra arguments; "{work}" stands for the task's work folder."""
    geometry: str | None = None
    """Window geometry (Tk's WxH+X+Y for the demo apps, X's for real programs)."""
    files: dict[str, str] = field(default_factory=dict)
    """Files written into the work folder before the app starts."""
    model_only: bool = False
    """The embedded planner's forms cannot express the instruction."""
    size: tuple[int, int] = (1280, 800)
    """The virtual screen."""
    max_seconds: float = 180.0
    """The run's time limit."""
    name: str = ""
    """Set from the module name by load_tasks."""


@dataclass
class Running:
    """The task's app, started in a session."""

    process: subprocess.Popen
    record_path: Path | None = None  # the demo apps' record file
    window_class: str | None = None  # real programs: to find their window


@dataclass
class EndState:
    """What a checker may read once the run is over (the app is still running)."""

    work: Path
    env: dict[str, str]
    app: Running

    def record(self) -> dict:
        if self.app.record_path is None:
            return {}
        try:
            return json.loads(self.app.record_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    @property
    def state(self) -> dict:
        return self.record().get("state", {})

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.record().get("events", []) if e.get("event") == kind]

    def submitted(self) -> dict | None:
        """The values of the demo form's last submit, if it was submitted."""
        submits = self.events("submit")
        return submits[-1]["values"] if submits else None

    def file(self, name: str) -> str | None:
        path = self.work / name
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def files(self) -> list[str]:
        return sorted(p.name for p in self.work.iterdir())

    def selection(self, which: str = "clipboard") -> str | None:
        """The text on an X selection (clipboard, primary), or None when nobody holds one."""
        out = subprocess.run(["xclip", "-o", "-selection", which], env=self.env, capture_output=True, timeout=5)
        return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else None

    def window_titles(self) -> list[str]:
        out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", ".", "getwindowname", "%@"],
                             env=self.env, capture_output=True, text=True, timeout=5)
        return [line for line in out.stdout.splitlines() if line]

    def calculator_display(self) -> str | None:
        """xcalc's display: a click on it puts the number on the primary selection (its own
        `selection()` action); a second click is tried in case the run left it toggled on."""
        window = find_window(self.env, "xcalc", timeout=2)
        for _ in range(2):
            subprocess.run(["xdotool", "mousemove", "--window", window, "100", "15", "click", "1"],
                           env=self.env, timeout=5, check=True)
            time.sleep(0.2)
            text = self.selection("primary")
            if text:
                return text.strip()
        return None


def windows(env: dict, window_class: str, visible: bool = True) -> list[str]:
    out = subprocess.run(["xdotool", "search", *(["--onlyvisible"] if visible else []), "--class", window_class],
                         env=env, capture_output=True, text=True, timeout=5)
    return out.stdout.split()


def find_window(env: dict, window_class: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not (found := windows(env, window_class)):
        if time.monotonic() > deadline:
            raise SandboxError(f"no {window_class} window appeared within {timeout:g} s")
        time.sleep(0.1)
    return found[0]


def _expand(task: Task, work: Path) -> list[str]:
    return [arg.replace("{work}", str(work)) for arg in task.args]


def start_demo(name: str):
    def start(session: XSession, task: Task, work: Path) -> Running:
        extra = ["--dir", str(work)] if name == "editor" else []  # Save As writes into the work folder
        app: App = session.launch(name, *extra, *_expand(task, work), geometry=task.geometry)
        app.wait_ready()
        return Running(app.process, record_path=app.record_path)
    return start


def start_program(command: list[str], window_class: str, timeout: float = 10.0):
    def start(session: XSession, task: Task, work: Path) -> Running:
        geometry = ["-geometry", task.geometry] if task.geometry else []
        process = session.spawn([*command[:1], *geometry, *_expand(task, work), *command[1:]], cwd=work)
        started, asked_again = time.monotonic(), False
        while not windows(session.env, window_class):
            if process.poll() is not None:
                raise SandboxError(f"{command[0]} exited with code {process.returncode}")
            waited = time.monotonic() - started
            if waited > timeout:
                raise SandboxError(f"no {window_class} window appeared within {timeout:g} s")
            if waited > 1.5 and not asked_again:
                # openbox can miss a map request sent just after it announced itself (about 1 start in
                # 10 for xcalc, which maps within milliseconds): the window exists, unmapped. Ask again.
                for window in windows(session.env, window_class, visible=False):
                    subprocess.run(["xdotool", "windowmap", window], env=session.env, timeout=5)
                asked_again = True
            time.sleep(0.1)
        time.sleep(0.3)  # let the window manager give it the focus
        return Running(process, window_class=window_class)
    return start


XTERM = ["xterm", "-T", "Terminal", "-e", "env", "HISTFILE=/dev/null", "bash", "--norc", "--noprofile"]
APPS: dict[str, Callable[[XSession, Task, Path], Running]] = {
    "form": start_demo("form"),
    "editor": start_demo("editor"),
    "xterm": start_program(XTERM, "xterm"),
    "xcalc": start_program(["xcalc"], "xcalc"),
}


def start(task: Task, session: XSession, work: Path) -> Running:
    """Write the task's files into `work` and start its app on the session's display."""
    work.mkdir(parents=True, exist_ok=True)
    for name, content in task.files.items():
        (work / name).write_text(content, encoding="utf-8")
    return APPS[task.app](session, task, work)


def all_task_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load_tasks(patterns: list[str] | None = None) -> list[Task]:
    """The suite's tasks, sorted by name; `patterns` picks by name or glob (form_*)."""
    names = all_task_names()
    if patterns:
        unknown = [p for p in patterns if not any(fnmatch(n, p) for n in names)]
        if unknown:
            raise SandboxError(f"no task matches {', '.join(unknown)}; the tasks are: {', '.join(names)}")
        names = [n for n in names if any(fnmatch(n, p) for p in patterns)]
    return [replace(importlib.import_module(f"{__name__}.{n}").TASK, name=n) for n in names]
