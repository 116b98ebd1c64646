"""Multi-step tasks on the demo apps, scripted as a model would answer them.

Each reply is computed when the request arrives, from the widget geometry the app itself
reports (Tk's winfo), converted to per-mille with the protocol's rule x = px / W * 1000.
The same scenarios drive the end-to-end tests and `tests/make_episodes.py`.
"""

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox.session import App, XSession
from tests.support.endpoint import ScriptedEndpoint

WIDTH, HEIGHT = 1366, 768


def centre(rect) -> tuple[float, float]:
    x, y, w, h = rect
    return x + w / 2, y + h / 2


def per_mille(x: float, y: float) -> str:
    return f"[{round(x / WIDTH * 1000)},{round(y / HEIGHT * 1000)}]"


class Script:
    """Builds reply callables that read the app's record at request time."""

    def __init__(self, app: App):
        self.app = app
        self.intended: list[str] = []  # the widget each pointer action is meant to hit, in order

    def rect(self, name: str) -> list[int]:
        record = self.app.wait_until(lambda r: name in r.get("widgets", {}), 5, f"widget {name!r} on screen")
        return record["widgets"][name]

    def at(self, name: str, dx: float = 0, dy: float = 0) -> str:
        x, y = centre(self.rect(name))
        return per_mille(x + dx, y + dy)

    def pointer(self, call: str, name: str, explanation: str, **offset) -> Callable:
        self.intended.append(name)
        return lambda request: (f"{explanation} <|begin_of_box|>{call}(start_box='{self.at(name, **offset)}', "
                                f"element_info='{name}')<|end_of_box|>\nMemory:\n[]")

    def drag(self, name: str, dx: float, explanation: str) -> Callable:
        self.intended.append(name)

        def reply(request):
            x, y = centre(self.rect(name))
            return (f"<think>The handle must move right.</think>{explanation} left_drag(start_box='{per_mille(x, y)}', "
                    f"end_box='{per_mille(x + dx, y)}', element_info='{name}')\nMemory:\n[]")
        return reply

    def scroll(self, name: str, direction: str, steps: int, explanation: str) -> Callable:
        return lambda request: (f"{explanation} <|begin_of_box|>scroll(start_box='{self.at(name)}', "
                                f"direction='{direction}', step={steps}, element_info='{name}')<|end_of_box|>")


@dataclass
class Scenario:
    app: str
    geometry: str
    task: str
    replies: Callable[[Script], list]
    outcome: Callable[[dict, Path], dict]  # the app-level effects to compare
    args: Callable[[Path], list[str]] = lambda workdir: []


def form_replies(s: Script) -> list:
    return [
        s.pointer("left_click", "name_entry", "Focus the Name field."),
        "Type the name. type(content='Zoë Ångström')\nMemory:\n[{\"name\": \"typed\"}]",
        s.pointer("left_click", "email_entry", "Focus the Email field."),
        "<|begin_of_box|>type(content='zoe@example.com')<|end_of_box|>",
        s.pointer("left_click", "subscribe", "Tick Subscribe."),
        s.scroll("country_list", "down", 8, "Uruguay is further down the list."),
        s.pointer("left_double_click", "country:Uruguay", "Choose Uruguay."),
        s.pointer("right_click", "name_entry", "Open the Name field's menu."),
        s.pointer("left_click", "menu:Upper case", "Make the name upper case."),
        s.drag("volume_handle", 120, "Turn the volume up."),
        "Submit with the keyboard. key(keys='ctrl+Return')",
        "The form is submitted. DONE()\nMemory:\n[]",
    ]


def form_outcome(record: dict, workdir: Path) -> dict:
    submits = [e for e in record["events"] if e["event"] == "submit"]
    chosen = [e["country"] for e in record["events"] if e["event"] == "country_chosen"]
    return {"submitted": submits[-1]["values"] if submits else None, "chosen": chosen}


def editor_replies(s: Script) -> list:
    return [
        s.scroll("text", "down", 10, "Scroll down the document."),
        s.pointer("left_double_click", "text", "Select the first word of a line.", dx=-175, dy=-60),
        s.pointer("right_click", "text", "Open the context menu on it.", dx=-175, dy=-60),
        s.pointer("left_click", "menu:Upper Case", "Upper-case the selection."),
        "Save the file. key(keys='ctrl+s')",
        s.pointer("left_click", "dialog_filename", "Focus the file name."),
        "type(content='notes-ü.txt')",
        "key(keys='Return')",
        "Saved. DONE()",
    ]


def editor_outcome(record: dict, workdir: Path) -> dict:
    saved = workdir / "notes-ü.txt"
    lines = saved.read_text(encoding="utf-8").splitlines() if saved.exists() else []
    changed = [line for n, line in enumerate(lines, 1) if line != f"Line {n}: the quick brown fox"]
    return {"top_line": record["state"]["top_line"], "selection": record["state"]["selection"],
            "saved_lines": len(lines), "changed_lines": changed}


SCENARIOS = {
    "form": Scenario("form", "700x560+40+30", "Fill in the form for Zoë Ångström and submit it",
                     form_replies, form_outcome),
    "editor": Scenario("editor", "720x420+60+40", "Upper-case a word and save the file as notes-ü.txt",
                       editor_replies, editor_outcome, args=lambda workdir: ["--dir", str(workdir)]),
}


def gui_agent(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real command line, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "agent", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@dataclass
class ScenarioRun:
    app: App
    script: Script
    endpoint: ScriptedEndpoint
    result: subprocess.CompletedProcess
    outcome: dict


def run_scenario(session: XSession, name: str, out: Path, workdir: Path) -> ScenarioRun:
    """Start the scenario's app and let `gui-agent run` do the task against the scripted endpoint."""
    scenario = SCENARIOS[name]
    workdir.mkdir(parents=True, exist_ok=True)
    app = session.launch(scenario.app, *scenario.args(workdir), geometry=scenario.geometry)
    app.wait_ready()
    script = Script(app)
    with ScriptedEndpoint(scenario.replies(script)) as endpoint:
        result = gui_agent("run", scenario.task, "--base-url", endpoint.url, "--api-key", "sk-loopback-secret",
                           "--display", session.display, "--out", str(out), env=session.env)
    return ScenarioRun(app, script, endpoint, result, scenario.outcome(app.record(), workdir))
