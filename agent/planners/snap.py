"""The grounding check for model planners: a click whose `element_info` names text that OCR finds
just beside the model's point is moved onto that text (or the button around it).

SNAP_RADIUS is 40 screen pixels: about 3% of a 1366-pixel-wide screen, or two lines of UI
text. Misses beside a target (the point on a button's edge or in the gap next to it) fall within
it; a target farther away is more likely a different element, so the model's point is kept.
Bordered boxes (fields, buttons) are looked for in a 640x240 crop around the point, and a point in
a text field is left as it is without reading anything; OCR reads only a 320x120 crop (a label up to
120 px wide beside a point 40 px from it is read whole), a quarter of the area it used to read.
"""

import re
import threading
import time

import numpy as np

from agent.core.ocr import OCR, TextBox, engine
from agent.core.planner import Decision, Planner
from agent.core.screen import Frame
from agent.planners import grounding as g

SNAP_RADIUS = 40
SHAPES_HALF_SIZE = 320, 120  # the buttons and fields around the point are looked for this far, so wide ones are whole
TEXT_HALF_SIZE = 160, 60  # and its text read this far: labels up to 120 px wide beside a point 40 px off
GENERIC_WORDS = {"a", "an", "the", "button", "field", "box", "icon", "link", "menu", "item", "tab", "label",
                 "text", "input", "checkbox", "check", "option", "entry", "textbox", "dropdown", "list"}


def target_words(element_info: str) -> str:
    """'the "Submit" button' -> 'Submit'."""
    words = [w for w in re.findall(r"[\w'.@-]+", element_info) if w.lower() not in GENERIC_WORDS]
    return " ".join(words)


def distance_to_box(point: tuple[float, float], box) -> float:
    x, y = point
    dx = max(box[0] - x, 0, x - box[2])
    dy = max(box[1] - y, 0, y - box[3])
    return float(np.hypot(dx, dy))


class SnappingPlanner:
    def __init__(self, planner: Planner, ocr: OCR | None = None, radius: float = SNAP_RADIUS):
        self.planner, self.ocr, self.radius = planner, ocr or OCR(), radius
        self.name = planner.name
        # loaded while the model thinks; not a daemon: a process ending while onnxruntime loads in a
        # daemon thread aborts ("terminate called without an active exception"), so its end waits
        threading.Thread(target=load_ocr, name="ocr-load").start()

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        """The planner's decision, its click moved onto the text it names; the time that took is the
        reply's `snap` timing."""
        decision = self.planner.decide(task, frame, feedback)
        started, action = time.perf_counter(), decision.action
        if action.traits.snaps and target_words(action.target_text):
            name, point = next(iter(action.points().items()))
            snapped = self.snap(frame, point, target_words(action.target_text))
            if snapped:
                decision.snap = {"model_point": list(point), **snapped}
                decision.action = action.model_copy(update={name: tuple(snapped["point"])})
        decision.timings["snap"] = time.perf_counter() - started
        return decision

    def snap(self, frame: Frame, model_point, query: str) -> dict | None:
        geometry = frame.geometry
        px, py = geometry.model_to_image(model_point)
        (x0, y0), crop = crop_around(frame, px, py, *SHAPES_HALF_SIZE)
        point = (px - x0, py - y0)
        radius = self.radius * frame.monitor.scale  # screen pixels to image pixels
        rectangles = g.find_rectangles(crop)  # first, as they cost little: a click in a field is left alone unread
        pointed_at = g.smallest_containing(rectangles, point)
        if pointed_at and g.is_input_like(crop, pointed_at):
            return None  # on a field: the model's aim stands
        (rx, ry), read = crop_around(frame, px, py, *TEXT_HALF_SIZE)
        dx, dy = rx - x0, ry - y0
        texts = [TextBox(t.text, t.score, (t.box[0] + dx, t.box[1] + dy, t.box[2] + dx, t.box[3] + dy))
                 for t in self.ocr.read(read)]
        matches = [m for m in g.find_text(texts, query, near=point) if distance_to_box(point, m.box) <= radius]
        if not matches:
            return None
        match = matches[0]
        around = next((r for r in rectangles if g.inside(match.centre, r) and g.inside(point, r)
                       and (r[2] - r[0]) * (r[3] - r[1]) < 0.5 * crop.shape[0] * crop.shape[1]), None)
        if g.inside(point, match.box) or around:
            return None  # on the named text already, or on the button around it: the model's aim stands
        button = next((r for r in rectangles if g.inside(match.centre, r)
                       and r[2] - r[0] <= 3 * (match.box[2] - match.box[0]) + 40
                       and r[3] - r[1] <= 3 * (match.box[3] - match.box[1])), None)
        cx, cy = ((button[0] + button[2]) / 2, (button[1] + button[3]) / 2) if button else match.centre
        return {"point": list(geometry.image_to_model((cx + x0, cy + y0))), "text": match.text.text,
                "distance": round(distance_to_box(point, match.box), 1)}


def load_ocr() -> None:
    try:
        engine()
    except Exception:  # the first snap that reads says what is wrong
        pass


def crop_around(frame: Frame, x: float, y: float,
                half_width: int, half_height: int) -> tuple[tuple[int, int], np.ndarray]:
    """The part of the frame within these distances of (x, y), and where its top left corner is."""
    x0, y0 = max(0, int(x) - half_width), max(0, int(y) - half_height)
    x1, y1 = min(frame.width, int(x) + half_width), min(frame.height, int(y) + half_height)
    return (x0, y0), np.ascontiguousarray(frame.pixels[y0:y1, x0:x1])
