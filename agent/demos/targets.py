"""What a recorded step says about its target, shared by recording, replaying and repairing: the window
under a point (through X), a grayscale crop around the point, the text at it, the step in words."""

import threading
from pathlib import Path

import cv2
import numpy as np

from agent.core.crop import crop_around
from agent.core.episode import replace_file
from agent.core.geometry import Point, distance_to_box
from agent.core.ocr import OCR
from agent.core.screen import Frame, Screen

CROP_WIDTH, CROP_HEIGHT = 80, 40
TEXT_RADIUS = 30  # pixels: the text under the point, else the nearest one this close
OCR_HALF_WIDTH, OCR_HALF_HEIGHT = 320, 60  # the region read around a point


class Windows:
    """The top-level windows of a display through python-xlib. (xdotool 3.20160805 names openbox's
    frame as the window under the pointer, which has no name, and its getwindowgeometry counts the
    frame's offset twice.)"""

    def __init__(self, display: str):
        from Xlib import X
        from Xlib import display as xdisplay

        self._viewable = X.IsViewable
        self._display = xdisplay.Display(display)
        self._root = self._display.screen().root
        self._wm_state = self._display.intern_atom("WM_STATE")
        self._net_wm_name = self._display.intern_atom("_NET_WM_NAME")
        self._utf8 = self._display.intern_atom("UTF8_STRING")
        self._lock = threading.Lock()

    def under_pointer(self) -> dict | None:
        """The window under the pointer: its name, position and size."""
        from Xlib.error import XError

        with self._lock:
            try:
                top = self._root.query_pointer().child  # the top-level window (a frame, under a window manager)
                return self._describe(self._client(top) or top) if top else None
            except XError:  # the window went away while we looked
                return None

    def named(self, name: str) -> list[dict]:
        """The viewable top-level windows with this name, top of the stack first."""
        from Xlib.error import XError

        found = []
        with self._lock:
            for top in reversed(self._root.query_tree().children):
                try:
                    if top.get_attributes().map_state == self._viewable and (client := self._client(top)):
                        info = self._describe(client)
                        if info["name"] == name:
                            found.append(info)
                except XError:
                    continue
        return found

    def _client(self, window):
        """The application's window inside a window manager's frame: the one with WM_STATE."""
        if window.get_full_property(self._wm_state, 0):
            return window
        for child in window.query_tree().children:
            if client := self._client(child):
                return client
        return None

    def _describe(self, window) -> dict:
        name = window.get_full_property(self._net_wm_name, self._utf8)
        name = name.value.decode("utf-8", "replace") if name else window.get_wm_name() or ""
        origin = self._root.translate_coords(window, 0, 0)
        g = window.get_geometry()
        return {"name": name if isinstance(name, str) else name.decode("latin-1"), "left": origin.x,
                "top": origin.y, "width": g.width, "height": g.height}

    def close(self) -> None:
        self._display.close()


def in_window(point: tuple[float, float], window: dict) -> bool:
    return (window["left"] <= point[0] < window["left"] + window["width"]
            and window["top"] <= point[1] < window["top"] + window["height"])


def target_crop(frame: Frame, point: Point,
                size: tuple[int, int] = (CROP_WIDTH, CROP_HEIGHT)) -> tuple[np.ndarray, Point]:
    """A grayscale cut of the frame of this size (moved inward at the edges) around a screen point, and
    where the point is in it, in image pixels."""
    x, y = (round(v) for v in frame.geometry.screen_to_image(point))
    crop = crop_around(frame, (x, y), (size[0] // 2, size[1] // 2), inward=True)
    gray = cv2.cvtColor(crop.pixels[:, :, :3], cv2.COLOR_BGR2GRAY)
    return gray, (x - crop.origin[0], y - crop.origin[1])


def text_near(ocr: OCR, frame: Frame, point: Point, radius: float = TEXT_RADIUS,
              window: dict | None = None) -> tuple[str, Point] | None:
    """The text under a screen point, else the nearest within `radius`, else the nearest on the
    point's line (a list row clicked beside its label), inside `window` if given (a title bar is
    not what a click in the window acted on); and the point's offset from that text's centre, in
    image pixels."""
    x, y = frame.geometry.screen_to_image(point)
    x0, y0 = max(0, int(x) - OCR_HALF_WIDTH), max(0, int(y) - OCR_HALF_HEIGHT)
    x1, y1 = min(frame.width, int(x) + OCR_HALF_WIDTH), min(frame.height, int(y) + OCR_HALF_HEIGHT)
    texts = ocr.read(np.ascontiguousarray(frame.pixels[y0:y1, x0:x1]), full=True)
    if window:
        to_screen = frame.geometry.image_to_screen
        texts = [t for t in texts if in_window(to_screen((t.centre[0] + x0, t.centre[1] + y0)), window)]
    local = (x - x0, y - y0)
    distance = {t: distance_to_box(local, t.box) for t in texts}
    close = [t for t in texts if distance[t] <= radius * frame.monitor.scale]
    same_line = [t for t in texts if t.box[1] <= local[1] < t.box[3]]
    if not (close or same_line):
        return None
    text = min(close or same_line, key=lambda t: distance[t])
    return text.text, (round(local[0] - text.centre[0]), round(local[1] - text.centre[1]))


def describe_target(ocr: OCR, frame: Frame, point: Point, window: dict | None, crop_file: Path) -> dict:
    crop, crop_point = target_crop(frame, point)
    replace_file(crop_file, cv2.imencode(".png", crop)[1].tobytes())  # never through a link
    if window:
        window = window | {"offset": [point[0] - window["left"], point[1] - window["top"]]}
    target = {"crop": crop_file.name, "crop_point": list(crop_point), "text": "", "text_offset": [0, 0],
              "window": window}
    if found := text_near(ocr, frame, point, window=window):
        target["text"], target["text_offset"] = found[0], list(found[1])
    return target


def explanation(step: dict) -> str:
    """Why a recorded action was done, as far as its target tells: the text at it, the window."""
    action = step.get("action") or {}
    targets = step.get("target") or {}
    target: dict = next(iter(targets.values()), {}) if targets else {}
    window = ((target.get("window") or {}).get("name") or "").strip()
    where = f" in the {window!r} window" if window else ""
    text = (target.get("text") or "").strip()
    kind = action.get("type")
    if kind == "type":
        return f"Type {action.get('content', '')!r}{where}."
    if kind == "key":
        keys = action.get("keys")
        return f"Press {'+'.join(keys) if isinstance(keys, list) else keys}{where}."
    if kind == "scroll":
        return f"Scroll {action.get('direction', '')}{f' over {text!r}' if text else ''}{where}."
    verbs = {"click": "Click", "double_click": "Double-click", "drag": "Drag", "hover": "Point at"}
    verb = verbs.get(kind or "", "Act on")
    return f"{verb} {repr(text) if text else 'the place shown'}{where}."


def screen_info(screen: Screen, frame: Frame) -> dict:
    m = frame.monitor
    return {"display": screen.display, "monitor": screen.monitor_index, "left": m.left, "top": m.top,
            "width": m.width, "height": m.height, "scale": m.scale, "image_width": frame.width,
            "image_height": frame.height}
