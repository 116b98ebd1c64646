"""Repairing a replay whose target is lost: GLM-4.5V is asked where it is now, and its point is kept
only where the screen agrees with the recording.

The request is the GLM GUI agent's own message (agent.planners.prompt): the task names the target
(its text, its window) and shows it cut in colour from the recorded screenshot; the history is the
recorded step itself, its screenshot at half size and its call; the current screenshot comes last.
A target with no recorded text, or whose recorded window is not on the screen, is not asked for:
nothing would check the answer. The pointed action in the reply is checked on the screen as it is
once the reply is in (what was on it when the model looked may have changed), before anything is done:
  - it lies on the screen, in a window of the recorded window's name;
  - the widget there is of the recorded kind: a bordered box about as tall as the recorded one and
    at most twice or half as wide (or no box, if there was none). Whether it is a field is not
    compared: a button under the pointer when recorded is lit as light as a field;
  - the text at the point (inside that box, or under the point) is the recorded text; or it is the
    text the model names in its element_info and it was nowhere on the recorded screen (a renamed
    button, not another one that was there).
Otherwise (FAIL(), an unreadable reply, a dead endpoint, a point that disagrees, a crop that cannot
be written) the replay stops as it does without a model, the step saying what the model answered
and why it was not taken.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

from agent.core.errors import EndpointError, FormatError
from agent.core.geometry import Point
from agent.core.ocr import OCR, Box, TextBox
from agent.core.screen import Frame
from agent.demos.record import Windows, describe_target, explanation, in_window
from agent.planners import grounding as g
from agent.planners.glm import GLMConfig, GLMPlanner
from agent.planners.prompt import Turn, build_content
from agent.planners.snap import SHAPES_HALF_SIZE, TEXT_HALF_SIZE, crop_around, distance_to_box, target_words

UNDER_POINT = 4  # pixels from a text's box that still count as on it
SHOWN_SIZE = (320, 160)  # the cut of the recorded screenshot shown as the target: it and the text beside it
SAME_HEIGHT = 0.25  # a widget's height may differ this much (or 4 px) from the recorded one
WIDTH_FACTOR = 2.0  # and its width up to this factor (a label's length changes a button's width)


@dataclass
class Lost:
    """A pointer target the replay could not find, and what the recording says of it."""

    step: dict  # the recorded step
    name: str  # which of its points: point, start
    text: str  # the target's text, parameters filled in
    window: dict | None  # the recorded window: name, left, top, width, height, offset
    recorded: Frame  # the step's screenshot, on the recorded monitor


@dataclass
class Answer:
    """What the model answered for a lost target; `point` (screen pixels) only when it was taken, on
    `frame`, the screen it was checked on."""

    point: Point | None
    frame: Frame | None
    record: dict  # written in the replay's step as "repair"
    reason: str = ""  # why the point was not taken


class ModelRepair:
    def __init__(self, config: GLMConfig, windows: Windows, ocr: OCR, folder: Path):
        """`folder` is the replay's episode folder: a repaired target's crop is written there."""
        self.planner = GLMPlanner(config)
        self.model, self.windows, self.ocr, self.folder = config.model, windows, ocr, Path(folder)

    def ask(self, frame: Frame, lost: Lost, index: int, capture: Callable[[], Frame]) -> Answer:
        """The model's point for the lost target seen on `frame`, if the screen `capture`d after its
        reply agrees with the recording there."""
        if why := self.unverifiable(lost):
            return Answer(None, None, {}, f"{self.model} was not asked: {why}")
        asked, recorded = time.perf_counter(), lost.recorded
        history = Turn(explanation(lost.step), lost.step["call"], recorded.png(0.5))
        content = build_content(repair_task(lost), [history], "[]", frame.png(), task_image_png=shown_target(lost))
        others = [SHOWN_SIZE, (round(recorded.width / 2), round(recorded.height / 2))]
        try:
            decision = self.planner.answer(content, frame, others, asked)
        except (EndpointError, FormatError) as error:
            reply = getattr(error, "reply", None)
            return Answer(None, None, {"model": self.model, "error": str(error), **(replied(reply) if reply else {})},
                          f"{self.model} gave no usable answer: {error}")
        record = {"model": self.model, **replied(decision.reply), "call": decision.call_text or decision.action.call()}
        points = decision.action.points()
        if decision.then or not points:
            return Answer(None, None, record, f"{self.model} answered {record['call']!r}, not one pointed action")
        named = decision.action.target_text
        point = frame.geometry.model_to_screen(points.get(lost.name) or next(iter(points.values())))
        record["point"] = list(point)
        started, now = time.perf_counter(), capture()
        try:
            if why := self.disagreement(now, point, lost, named):
                record["refused"] = why
                return Answer(None, None, record, f"{self.model} pointed at {tuple(point)} ({named!r}), but {why}")
            record["target"] = describe_target(self.ocr, now, point, self.window_at(point, lost.window),
                                               self.folder / f"repair-{index:03d}-{lost.name}.png")
        except OSError as error:
            return Answer(None, None, record, f"the repaired target's crop cannot be written: {error.strerror}")
        finally:  # the step's timings then hold the check too
            record["timings"]["check"] = round(time.perf_counter() - started, 4)
        return Answer(point, now, record)

    def unverifiable(self, lost: Lost) -> str | None:
        """Why no answer about this target could be checked, or None."""
        if not lost.text:
            return "the recording has no text at the target to check an answer against"
        name = (lost.window or {}).get("name")
        if name and not self.windows.named(name):
            return f"no window named {name!r} is on the screen"
        return None

    def disagreement(self, frame: Frame, point: Point, lost: Lost, named: str) -> str | None:
        """Why the screen at `point` does not agree with the recorded target, or None."""
        if not frame.monitor.contains(point):
            return "that is off the screen"
        window = lost.window or {}
        if window.get("name") and not self.window_at(point, window):
            return f"that is not in a window named {window['name']!r}"
        was = widget_at(lost.recorded, tuple(lost.step["screen"][lost.name]))
        now = widget_at(frame, point)
        if why := widget_difference(was, now):
            return why
        text = text_at(self.ocr, frame, point, now)
        if not text:
            return f"no text is there; the recording had {lost.text!r}"
        if g.similarity(g.fold(lost.text), g.fold(text)) >= g.MATCH_THRESHOLD:
            return None
        said = g.match_text(text, TextBox(target_words(named), 1.0, (0, 0, 0, 0)))  # the words of its element_info
        if not (said and said.score >= g.MATCH_THRESHOLD):
            return f"the text there is {text!r}, neither the recorded {lost.text!r} nor what the model named"
        if g.find_text(self.ocr.read(lost.recorded.pixels), text):
            return f"{text!r} was on the recorded screen already, so it is another element, not {lost.text!r} renamed"
        return None  # renamed: the model names the new text written there

    def window_at(self, point: Point, recorded: dict | None) -> dict | None:
        """The window of the recorded window's name that holds the point."""
        if not recorded or not recorded.get("name"):
            return None
        return next((w for w in self.windows.named(recorded["name"]) if in_window(point, w)), None)


def repair_task(lost: Lost) -> str:
    what = f"the element {lost.text!r}" if lost.text else "the element"
    window = (lost.window or {}).get("name")
    return (f"Do step 1 again on the current screen: it acted on {what}"
            f"{f' in the {window!r} window' if window else ''}, shown below as it was then (cut from step 1's "
            "screenshot around its point). The application may have changed since: the element may have moved "
            "or be labelled differently. Give the same action on that element where it is now, with "
            "element_info naming the text it shows now; if no element on the current screen does what it did, "
            "call FAIL().")


def shown_target(lost: Lost) -> bytes:
    """A colour cut of the recorded screenshot around the target's point, as PNG."""
    x, y = (round(v) for v in lost.recorded.geometry.screen_to_image(tuple(lost.step["screen"][lost.name])))
    (x0, y0), cut = crop_around(lost.recorded, x, y, SHOWN_SIZE[0] // 2, SHOWN_SIZE[1] // 2)
    return cv2.imencode(".png", cut[:, :, :3])[1].tobytes()


def replied(reply) -> dict:
    return {**reply.fields(), "timings": {k: round(v, 4) for k, v in reply.timings.items()}}


@dataclass(frozen=True)
class Widget:
    box: Box  # image pixels of the frame it is on

    @property
    def size(self) -> tuple[int, int]:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]


def widget_at(frame: Frame, point: Point) -> Widget | None:
    """The smallest bordered box around a screen point (a button, a field), found as snap finds them."""
    x, y = frame.geometry.screen_to_image(point)
    (x0, y0), crop = crop_around(frame, x, y, *SHAPES_HALF_SIZE)
    local = (x - x0, y - y0)
    boxes: list[Box] = [b for b in g.find_rectangles(crop)
                        if g.inside(local, b) and (b[2] - b[0]) * (b[3] - b[1]) < 0.25 * crop.shape[0] * crop.shape[1]]
    return Widget((boxes[0][0] + x0, boxes[0][1] + y0, boxes[0][2] + x0, boxes[0][3] + y0)) if boxes else None


def widget_difference(was: Widget | None, now: Widget | None) -> str | None:
    if was is None and now is None:
        return None
    if was is None or now is None:
        what = "a bordered box {}x{} was there".format(*was.size) if was else "no bordered box was there"
        there = "a bordered box {}x{} is".format(*now.size) if now else "none is"
        return f"{what} when recorded and {there} at that point"
    (width, height), (was_width, was_height) = now.size, was.size
    if (abs(height - was_height) > max(4, SAME_HEIGHT * was_height)
            or not 1 / WIDTH_FACTOR <= width / was_width <= WIDTH_FACTOR):
        return f"the box there is {width}x{height}, the recorded one {was_width}x{was_height}"
    return None


def text_at(ocr: OCR, frame: Frame, point: Point, widget: Widget | None) -> str:
    """The text inside the widget at the point, else the text under the point ("" if none): never a
    label beside it, which may belong to something else."""
    x, y = frame.geometry.screen_to_image(point)
    (x0, y0), crop = crop_around(frame, x, y, *TEXT_HALF_SIZE)
    local = (x - x0, y - y0)
    inside = (widget.box[0] - x0, widget.box[1] - y0, widget.box[2] - x0, widget.box[3] - y0) if widget else None
    texts = [t for t in ocr.read(crop) if (g.inside(t.centre, inside) if inside else
                                           distance_to_box(local, t.box) <= UNDER_POINT)]
    return min(texts, key=lambda t: distance_to_box(local, t.box)).text if texts else ""
