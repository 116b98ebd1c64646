"""What the code around an action asks of it is answered by the action's class (`traits`): every
action gives every answer in its own body, and a new action defined here only, a triple click, is
confirmed, snapped and re-grounded as a click is without a change to agent/."""

import json
from dataclasses import fields
from typing import Literal

import cv2
import numpy as np
import pytest

from agent.core import actions as a
from agent.core.confirm import ConfirmationPolicy, Confirmer
from agent.core.defaults import EXIT_CODES, Status
from agent.core.episode import EpisodeWriter, read_episode
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.core.loop import Agent
from agent.core.ocr import TextBox
from agent.core.planner import Decision, Reply
from agent.core.screen import Frame
from agent.demos.reground import Grounder, Looking, RegroundedPlanner
from agent.planners.snap import TEXT_HALF_SIZE, SnappingPlanner
from tests.support.fakes import ScriptedScreen


class TripleClick(a.BaseAction):
    """Selects a line or a paragraph: the whole of a new action."""

    type: Literal["triple_click"] = "triple_click"
    traits = a.Traits(point_fields=("point",), target_field="element_info", text_field=None, keys_field=None,
                      focuses=True, snaps=True, confirm_target=True, idle=False, ends_with=None)
    point: a.ModelPoint
    element_info: str = ""

    def call(self) -> str:
        return f"left_triple_click(start_box='[{self.point[0]},{self.point[1]}]', element_info='{self.element_info}')"

    def perform(self, computer: a.Computer, to_screen: a.ToScreen) -> None:
        computer.click(to_screen(self.point), "left", 3)


def test_every_action_of_the_space_gives_every_answer_in_its_own_body():
    defined = {cls for cls in a.BaseAction.__subclasses__() if cls.__module__ == a.__name__}
    assert defined == set(a.ACTION_CLASSES)  # an action outside the union could never be read back
    for cls in a.ACTION_CLASSES:
        assert isinstance(vars(cls).get("traits"), a.Traits), cls.__name__
        for name in (*cls.traits.point_fields, cls.traits.target_field, cls.traits.text_field, cls.traits.keys_field):
            assert name is None or name in cls.model_fields, (cls.__name__, name)


def test_a_run_ends_with_a_status_that_has_an_exit_code_and_reads_as_the_same_text():
    assert set(EXIT_CODES) == set(Status) and EXIT_CODES["done"] == 0 and EXIT_CODES["interrupted"] == 130
    ending = [cls.traits.ends_with for cls in a.ACTION_CLASSES if cls.traits.ends_with]
    assert ending == [Status.DONE, Status.FAILED] and json.dumps(ending) == '["done", "failed"]'


def test_an_action_that_leaves_a_question_open_fails_where_it_is_defined():
    with pytest.raises(TypeError, match="Quadruple does not give its own traits: write traits = Traits"):
        class Quadruple(TripleClick):  # a click's answers are not inherited silently
            type: Literal["quadruple_click"] = "quadruple_click"
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'ends_with'"):
        answers = {f.name: getattr(TripleClick.traits, f.name) for f in fields(a.Traits) if f.name != "ends_with"}
        a.Traits(**answers)
    with pytest.raises(TypeError, match="Misnamed's traits name fields it does not have: position"):
        class Misnamed(a.BaseAction):
            type: Literal["misnamed"] = "misnamed"
            traits = a.Traits(point_fields=("position",), target_field=None, text_field=None, keys_field=None,
                              focuses=False, snaps=False, confirm_target=False, idle=False, ends_with=None)
            point: a.ModelPoint


def test_a_triple_click_on_delete_needs_a_yes_as_a_click_does():
    asked = []
    confirmer = Confirmer("ask", ask=lambda question: asked.append(question) or False)
    assert confirmer.refusal(TripleClick(point=(5, 5), element_info="Delete all")).startswith("The user refused")
    assert confirmer.refusal(TripleClick(point=(5, 5), element_info="First paragraph")) is None
    assert asked == ["The agent wants to left_triple_click(start_box='[5,5]', element_info='Delete all'): "
                     "clicking 'Delete all' (delete). Allow it?"]
    assert ConfirmationPolicy().reason(a.Hover(point=(5, 5), element_info="Delete all"), None) is None


class FakeOCR:
    def __init__(self, *texts: TextBox):
        self.texts = list(texts)

    def read(self, image, full: bool = False) -> list[TextBox]:
        return self.texts


class NoActionLines(EpisodeWriter):
    """An episode that writes no step or act line: one with a triple click would be refused, as a.ACTION has none."""

    def step(self, step) -> None:
        pass

    def act(self, **fields) -> None:
        pass


class OneDecision:
    name = "one-decision"

    def __init__(self, action):
        self.action = action

    def decide(self, task, frame, feedback=None) -> Decision:
        return Decision(Reply(raw=self.action.call()), self.action, "", None)


@pytest.mark.parametrize("action, moved", [(TripleClick(point=(500, 500), element_info="the Delete button"), True),
                                           (a.Hover(point=(500, 500), element_info="the Delete button"), False)])
def test_a_triple_click_beside_the_text_it_names_is_snapped_onto_it_as_a_click_is(action, moved):
    frame = Frame(np.full((800, 1280, 4), 255, np.uint8), Monitor(0, 0, 1280, 800))
    x, y = frame.geometry.model_to_image(action.point)
    left, top = x - max(0, x - TEXT_HALF_SIZE[0]) + 20, y - max(0, y - TEXT_HALF_SIZE[1]) - 8  # 20 px right of it
    ocr = FakeOCR(TextBox("Delete", 0.99, (left, top, left + 50, top + 16)))
    decision = SnappingPlanner(OneDecision(action), ocr=ocr).decide("task", frame)
    assert type(decision.action) is type(action) and decision.action.element_info == "the Delete button"
    expected = frame.geometry.image_to_model((x + 45, y))
    assert (decision.action.point == tuple(expected)) is moved and (decision.snap is not None) is moved


def form(left: int, top: int) -> Frame:
    """A text field labelled Note."""
    pixels = np.full((400, 600, 4), 217, np.uint8)
    cv2.putText(pixels, "Note", (left, top + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0, 255), 1)
    cv2.rectangle(pixels, (left + 60, top), (left + 260, top + 20), (255, 255, 255, 255), -1)
    cv2.rectangle(pixels, (left + 60, top), (left + 260, top + 20), (90, 90, 90, 255), 1)
    return Frame(pixels, Monitor(0, 0, 600, 400))


class NoWindows:
    def named(self, name: str) -> list[dict]:
        return []


@pytest.mark.parametrize("first", [TripleClick, a.Hover])
def test_a_triple_click_is_re_grounded_and_the_text_typed_after_it_goes_where_it_acted(tmp_path, first):
    recorded, moved = form(20, 40), form(60, 90)
    writer = EpisodeWriter(tmp_path / "demo")
    writer.header(task="Replace the note", planner="demonstration", agent_version="test", settings={},
                  screen={"left": 0, "top": 0, "width": 600, "height": 400, "scale": 1.0})
    point = (90, 50)  # in the Note field, beside its label
    steps = [(first(point=recorded.geometry.screen_to_model(point)), {"point": list(point)}),
             (a.TypeText(content="{note}"), {})]  # a parameter
    for index, (action, screen) in enumerate(steps, 1):
        known = action if type(action) in a.ACTION_CLASSES else a.Click(**action.points())  # what episodes read
        writer.step({"index": index, "screenshot": writer.screenshot(index, recorded.png()), "outcome": "ok",
                     "action": known.model_dump(), "call": action.call(), "screen": screen})
    writer.end("done")

    computer = RecordingComputer(Monitor(0, 0, 600, 400))
    screen = ScriptedScreen(computer, [moved])
    planner = RegroundedPlanner(read_episode(tmp_path / "demo"), {"note": "Grace"},
                                Looking(screen, Grounder(NoWindows(), FakeOCR()), target_timeout=0.5))
    planner.steps = [(step, action) for (step, _), (action, _) in zip(planner.steps, steps)]  # not read by a.ACTION
    done = []  # the replay's step lines
    status, _ = Agent("Replace the note", planner, computer, screen, NoActionLines(tmp_path / "replay"),
                      on_step=done.append).run()
    assert status == "done"

    assert computer.calls[0][1] == (130, 100)  # where the field is now
    assert computer.calls[1:] == [("type_text", "Grace")]
    assert (done[1].get("grounding", {}).get("method") == "focus") is first.traits.focuses
