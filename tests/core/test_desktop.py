"""The computer's whole interface declared (agent/core/computer.py) and the desktop composed in one
place (agent/core/desktop.py): every computer and wrapper has every verb and capability its callers
use, nothing asks a computer what it has, and a front door that acts call by call is one small class
on the desktop."""

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import agent
from agent.core.actions import Click, Key, RunSkill, TypeText
from agent.core.computer import Computer, ComputerBase, ComputerWrapper
from agent.core.confirm import NeedsConfirmation
from agent.core.desktop import Desktop, open_desktop
from agent.core.errors import ActionError
from agent.core.executors import RecordingComputer, SecretTyping
from agent.core.geometry import Monitor
from agent.core.mask import MaskedScreen
from agent.core.ocr import OCR
from agent.core.screen import Screen
from agent.demos.skills import SkillRunner
from tests.support.fakes import FakeScreen
from tests.support.scenarios import Script, centre

AGENT = Path(agent.__file__).parent
VERBS = [name for name in vars(Computer) if not name.startswith("_")]
INTERFACE = {name for name in dir(ComputerBase) if not name.startswith("_")}


def computer_classes() -> set[type]:
    """Every ComputerBase the package defines, its modules imported first."""
    for package in ("agent.core", "agent.planners", "agent.demos"):
        for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
            importlib.import_module(f"{package}.{module.name}")
    importlib.import_module("agent.mcp_server")
    found, todo = set(), [ComputerBase]
    while todo:
        for cls in todo.pop().__subclasses__():
            found.add(cls)
            todo.append(cls)
    return {cls for cls in found if cls.__module__.startswith("agent.")}


def asked_of_computers() -> dict[str, list[str]]:
    """What the package's code reads of anything named *computer (computer.click, self.raw_computer.typed),
    and where; and every getattr or hasattr on one, which asks it by name."""
    asked: dict[str, list[str]] = {}
    for path in AGENT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr"):
                if ast.unparse(node.args[0]).endswith("computer"):
                    asked.setdefault(f"{node.func.id}({ast.unparse(node.args[1])})", []).append(path.name)
            elif isinstance(node, ast.Attribute) and ast.unparse(node.value).endswith("computer"):
                asked.setdefault(node.attr, []).append(path.name)
    return asked


def test_what_callers_ask_of_a_computer_is_declared_and_nobody_asks_by_name():
    asked = asked_of_computers()
    assert {"click", "type_text", "set_deadline", "typed", "window_class", "run_skill"} <= set(asked)
    undeclared = {name: where for name, where in asked.items() if name not in INTERFACE}
    assert not undeclared, f"declare these in ComputerBase (agent/core/computer.py): {undeclared}"


def test_every_computer_has_every_verb_and_every_wrapper_forwards_every_capability():
    classes = computer_classes()
    assert {RecordingComputer, SecretTyping, SkillRunner, ComputerWrapper} <= classes
    for cls in classes:
        assert not inspect.isabstract(cls), f"{cls.__name__} lacks verbs: {sorted(cls.__abstractmethods__)}"
        assert all(callable(getattr(cls, verb)) for verb in VERBS)
    # a capability added to ComputerBase and not to the wrapper would answer with its default, not the computer's
    defaults = {name for name in INTERFACE if getattr(ComputerWrapper, name) is getattr(ComputerBase, name)}
    assert not defaults, f"ComputerWrapper does not forward {sorted(defaults)}"


def test_a_class_that_lacks_a_verb_cannot_be_made():
    class NoWait(ComputerBase):
        def click(self, point, button, count): ...
        def move(self, point): ...
        def drag(self, start, end): ...
        def scroll(self, point, direction, steps): ...
        def keypress(self, keys): ...
        def type_text(self, text): ...

    with pytest.raises(TypeError, match="wait"):
        NoWait()


class Capable(RecordingComputer):
    def window_class(self):
        return "XTerm"

    def corners(self):
        return {(0, 0)}


@pytest.mark.parametrize("wrap", [lambda c: ComputerWrapper(c), lambda c: SecretTyping(c, {"PIN": "4321"})],
                         ids=["wrapper", "secret typing"])
def test_a_wrapper_hands_every_verb_and_capability_to_the_computer_it_wraps(wrap):
    inner = Capable(Monitor(0, 0, 100, 100))
    outer = wrap(inner)
    outer.click((1, 2), "left", 1)
    outer.type_text("{{PIN}}" if isinstance(outer, SecretTyping) else "4321")
    outer.run_skill("greet", {"name": "Ada"})
    outer.set_deadline(5.0)
    assert inner.calls == [("click", (1, 2), "left", 1), ("type_text", "4321"), ("run_skill", "greet", {"name": "Ada"})]
    assert (outer.typed, outer.window_class(), outer.corners()) == (4, "XTerm", {(0, 0)})


def test_a_masked_screen_has_all_of_a_screen():
    screen = {name for name in vars(Screen) if not name.startswith("_")} | {"display", "monitor_index"}
    assert screen <= set(dir(MaskedScreen))


class OnlyVerbs:
    """A caller's own computer: the verbs of agent.Computer, nothing else."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, verb):
        if verb not in VERBS:
            raise AttributeError(verb)
        return lambda *args: self.calls.append((verb, *args))


def test_a_callers_own_computer_gets_the_default_capabilities_on_a_desktop():
    computer = OnlyVerbs()
    desktop = open_desktop(screen=FakeScreen(200, 100), computer=computer, secrets={})
    assert isinstance(desktop.computer, ComputerBase) and desktop.made == []
    assert (desktop.computer.typed, desktop.computer.window_class(), desktop.computer.corners()) == (None, None, set())
    with pytest.raises(ActionError, match="no skills are offered"):
        RunSkill(name="greet").perform(desktop.computer, lambda point: point)
    with pytest.raises(ActionError, match="no secret named PIN"):
        desktop.computer.type_text("{{PIN}}")
    Click(point=(500, 500)).perform(desktop.computer, lambda point: point)
    assert computer.calls == [("click", (500, 500), "left", 1)]


class CallByCall:
    """A front door that acts one call at a time, as the MCP server does, made of the desktop alone:
    secrets typed by name and covered on screen, the confirmation policy asked first."""

    def __init__(self, display: str, secrets: dict[str, str], ask):
        self.desktop: Desktop = open_desktop(display, secrets=secrets)
        self.confirmer = self.desktop.confirmer("ask", ask=ask)

    def act(self, action) -> str:
        frame = self.desktop.screen.capture()
        if refusal := self.confirmer.refusal(action):
            return refusal
        action.perform(self.desktop.computer, frame.geometry.model_to_screen)
        self.desktop.screen.settle(frame)
        return "done"

    def screenshot(self):
        return self.desktop.screen.capture()


def test_a_front_door_that_acts_call_by_call_needs_only_the_desktop(x_session, monkeypatch):
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    name_field = centre(Script(app).rect("name_entry"))
    asked = []
    door = CallByCall(x_session.display, {"PIN": "Hunter2Secret"}, ask=lambda question: asked.append(question))
    try:
        notes = []
        with door.desktop.stop_keys_watched("ctrl+alt+shift+x", notes.append):
            field = door.screenshot().geometry.screen_to_model(name_field)
            assert door.act(Click(point=field)) == "done"
            assert door.act(TypeText(content="{{PIN}}")) == "done"
            shown = door.screenshot()
            with pytest.raises(NeedsConfirmation, match="needs a yes"):
                door.act(Key(keys="alt+f4"))  # nobody there to say yes
        app.wait_until(lambda record: record.get("state", {}).get("name") == "Hunter2Secret", 5, "the PIN typed")
        texts = " ".join(line.text for line in OCR().read(shown.pixels, full=True))
        assert "hunter" not in texts.lower() and "Email" in texts  # covered, the rest of the form still seen
        assert len(asked) == 1 and "alt+f4" in asked[0] and app.process.poll() is None
        assert notes == ["press ctrl+alt+shift+x or move the pointer into a screen corner to stop the run at once"]
    finally:
        door.desktop.close()
