"""The grounding check for model planners: a click whose `element_info` names text that OCR finds
just beside the model's point is moved onto that text (or the button around it).

SNAP_RADIUS is 40 screen pixels: about 3% of a 1366-pixel-wide screen, or two lines of UI
text. Misses beside a target (the point on a button's edge or in the gap next to it) fall within
it; a target farther away is more likely a different element, so the model's point is kept.
"""

import re

import numpy as np

from agent.core import actions as a
from agent.core.ocr import OCR
from agent.core.planner import Decision, Planner
from agent.core.screen import Frame
from agent.planners import grounding as g

SNAP_RADIUS = 40
CROP_HALF_WIDTH, CROP_HALF_HEIGHT = 320, 120
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

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        decision = self.planner.decide(task, frame, feedback)
        action = decision.action
        if isinstance(action, (a.Click, a.DoubleClick)) and target_words(action.element_info):
            snapped = self.snap(frame, action.point, target_words(action.element_info))
            if snapped:
                decision.snap = {"model_point": list(action.point), **snapped}
                decision.action = action.model_copy(update={"point": tuple(snapped["point"])})
        return decision

    def snap(self, frame: Frame, model_point, query: str) -> dict | None:
        geometry = frame.geometry
        px, py = geometry.model_to_image(model_point)
        x0, y0 = max(0, int(px) - CROP_HALF_WIDTH), max(0, int(py) - CROP_HALF_HEIGHT)
        x1, y1 = min(frame.width, int(px) + CROP_HALF_WIDTH), min(frame.height, int(py) + CROP_HALF_HEIGHT)
        crop = np.ascontiguousarray(frame.pixels[y0:y1, x0:x1])
        point = (px - x0, py - y0)
        radius = self.radius * frame.monitor.scale  # screen pixels to image pixels
        matches = [m for m in g.find_text(self.ocr.read(crop), query, near=point)
                   if distance_to_box(point, m.box) <= radius]
        if not matches:
            return None
        match = matches[0]
        rectangles = g.find_rectangles(crop)
        around = next((r for r in rectangles if g.inside(match.centre, r) and g.inside(point, r)
                       and (r[2] - r[0]) * (r[3] - r[1]) < 0.5 * crop.shape[0] * crop.shape[1]), None)
        pointed_at = g.smallest_containing(rectangles, point)
        if g.inside(point, match.box) or around or (pointed_at and g.is_input_like(crop, pointed_at)):
            return None  # on the named text already, or on a field: the model's aim stands
        button = next((r for r in rectangles if g.inside(match.centre, r)
                       and r[2] - r[0] <= 3 * (match.box[2] - match.box[0]) + 40
                       and r[3] - r[1] <= 3 * (match.box[3] - match.box[1])), None)
        cx, cy = ((button[0] + button[2]) / 2, (button[1] + button[3]) / 2) if button else match.centre
        return {"point": list(geometry.image_to_model((cx + x0, cy + y0))), "text": match.text.text,
                "distance": round(distance_to_box(point, match.box), 1)}
