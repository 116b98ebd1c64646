"""Recording a person's demonstration into an episode that `agent.demos.reground` can replay robustly.

pynput's listeners (X RECORD) see every press, release, scroll and key on the display. Their
callbacks stay short: they take the screenshot from just before each pointer action (X tells
listeners of a press only after the app got it, and a capture then may already show the app's
answer, a selected row: RecentFrames keeps the last few screenshots), note the window under the
pointer, and queue the event with the X server's time of it. The keyboard and the mouse
listeners run in two threads, and a busy process (OCR holds the GIL) can hold one of them back
for a few hundred milliseconds, so the main thread orders events by the server's time and takes
them only once REORDER_SECONDS old. It merges them into actions (double-clicks, drags, scrolls
by place, typed text by field, key chords), describes each pointer target (a grayscale crop,
the text under it, the window and the point's place in it) and writes one step per action.
"""

import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from agent.core import actions as a
from agent.core.defaults import Outcome, PlannerKind, Status
from agent.core.episode import EpisodeWriter, replace_file
from agent.core.errors import AgentError, DisplayError, EpisodeError
from agent.core.executors import ensure_xauthority
from agent.core.geometry import Point
from agent.core.ocr import OCR
from agent.core.screen import Frame, Screen
from agent.core.stop import DEFAULT_STOP_KEYS
from agent.core.version import __version__
from agent.planners.snap import distance_to_box

DOUBLE_CLICK_SECONDS = 0.4
SAME_PLACE = 4  # pixels: presses this close are at the same place (double-clicks, scrolls)
DRAG_DISTANCE = 6  # pixels between press and release that make a drag, not a click
SCROLL_IDLE_SECONDS = 0.6  # a scroll run is written once the wheel rests this long
REORDER_SECONDS = 0.6  # longer than a listener is held back (measured: 0.3 s while OCR runs)
CROP_WIDTH, CROP_HEIGHT = 80, 40
TEXT_RADIUS = 30  # pixels: the text under the point, else the nearest one this close
OCR_HALF_WIDTH, OCR_HALF_HEIGHT = 320, 60  # the region read around a point
PASTE_CHORDS = {("ctrl", "v"), ("ctrl", "shift", "v"), ("shift", "insert")}
MODIFIER_ORDER = ("ctrl", "alt", "shift", "win")
# X reports the release of a shifted key unshifted (press '!', release '1'); US layout.
UNSHIFTED = dict(zip('~!@#$%^&*()_+{}|:"<>?', "`1234567890-=[]\\;',./"))
PYNPUT_NAMES = {"ctrl_l": "ctrl", "ctrl_r": "ctrl", "alt_l": "alt", "alt_r": "alt", "alt_gr": "alt",
                "shift_l": "shift", "shift_r": "shift", "cmd": "win", "cmd_l": "win", "cmd_r": "win",
                "esc": "escape", "page_up": "pageup", "page_down": "pagedown", "caps_lock": "capslock",
                "num_lock": "numlock", "scroll_lock": "scrolllock", "print_screen": "printscreen", "menu": "apps"}
KEYSYM_NAMES = {0xFE20: "tab"}  # ISO_Left_Tab: what shift+tab presses


def key_name(name: str | None, char: str | None, vk: int | None) -> str | None:
    """The executor's name of a pynput key (a Key's name, or a KeyCode's char or keysym), unshifted
    and lower case, so that a press and its release name the same key; None for keys we cannot name."""
    if name:
        key = PYNPUT_NAMES.get(name, name)
    elif char and char.isprintable():
        key = char
    elif vk in KEYSYM_NAMES:
        key = KEYSYM_NAMES[vk]
    elif vk and 32 <= vk < 127:  # with ctrl held, X may report the keysym rather than a character
        key = chr(vk)
    else:
        return None
    key = UNSHIFTED.get(key, key).lower() if len(key) == 1 else key
    try:
        return a.normalise_key(key)
    except ValueError:
        return None


@dataclass
class Event:
    """One thing the listeners saw."""

    time: float  # the X server's time of the event, in seconds
    kind: str  # press, release, scroll, text, keys
    point: Point | None = None
    button: str = ""  # press/release: left, right, middle; scroll: up, down, left, right
    text: str = ""  # text: the characters typed or pasted
    keys: tuple[str, ...] = ()  # keys: the chord; text: the chord that pasted it, if any
    frame: Frame | None = None
    window: dict | None = None


@dataclass
class Gesture:
    """One action as the person did it, in screen pixels, before it becomes a typed action."""

    kind: str  # click, double_click, drag, scroll, type, key
    time: float
    frame: Frame | None
    points: dict[str, Point] = field(default_factory=dict)
    windows: dict[str, dict | None] = field(default_factory=dict)
    button: str = "left"
    direction: str = ""
    steps: int = 0
    text: str = ""
    keys: tuple[str, ...] = ()
    pasted_with: list[str] = field(default_factory=list)

    def action(self, frame: Frame, element_info: str = ""):
        """The typed action, its points in the model space of the frame it was seen on."""
        to_model = frame.geometry.screen_to_model
        pointed = {"element_info": element_info}
        if self.kind == "click":
            return a.Click(point=to_model(self.points["point"]), button=self.button, **pointed)
        if self.kind == "double_click":
            return a.DoubleClick(point=to_model(self.points["point"]), **pointed)
        if self.kind == "drag":
            return a.Drag(start=to_model(self.points["start"]), end=to_model(self.points["end"]), **pointed)
        if self.kind == "scroll":
            return a.Scroll(point=to_model(self.points["point"]), direction=self.direction, steps=self.steps, **pointed)
        if self.kind == "type":
            return a.TypeText(content=self.text)
        return a.Key(keys=list(self.keys))


def near(p: Point, q: Point, distance: float) -> bool:
    return abs(p[0] - q[0]) <= distance and abs(p[1] - q[1]) <= distance


class Merger:
    """Turns events, in time order, into gestures: two quick presses at one place are a
    double-click, a release away from its press a drag, wheel notches at one place one scroll,
    consecutive characters (typed or pasted) one type action until the pointer acts elsewhere."""

    def __init__(self, first_frame: Frame | None = None):
        self.finished: list[Gesture] = []
        self.pending: Gesture | None = None
        self.press: Event | None = None
        self.double = False
        self.last_frame = first_frame  # for the rare gesture whose first event came without a screenshot

    def feed(self, event: Event) -> None:
        self.last_frame = event.frame or self.last_frame
        getattr(self, f"_{event.kind}")(event)

    def expire(self, now: float) -> None:
        """Writes a lone click once no second press can come, and a scroll once the wheel rests."""
        pending = self.pending
        if pending and self.press is None and (
                (pending.kind == "click" and now - pending.time > DOUBLE_CLICK_SECONDS)
                or (pending.kind == "scroll" and now - pending.time > SCROLL_IDLE_SECONDS)):
            self.flush()

    def flush(self) -> None:
        if self.pending and (self.pending.kind != "type" or self.pending.text):
            self.finished.append(self.pending)
        self.pending = None

    def _press(self, event: Event) -> None:
        pending = self.pending
        self.double = (pending is not None and pending.kind == "click" and pending.button == "left"
                       and event.button == "left" and event.point is not None
                       and near(pending.points["point"], event.point, SAME_PLACE)
                       and event.time - pending.time <= DOUBLE_CLICK_SECONDS)
        if not self.double:
            self.flush()
        self.press = event

    def _release(self, event: Event) -> None:
        press, self.press = self.press, None
        if press is None or press.button != event.button or press.point is None or event.point is None:
            return  # pressed before the recording started
        frame = press.frame or self.last_frame
        if not near(press.point, event.point, DRAG_DISTANCE):
            self.flush()
            self.finished.append(Gesture("drag", press.time, frame, {"start": press.point, "end": event.point},
                                         {"start": press.window, "end": press.window}))
        elif self.double and self.pending:
            self.pending.kind = "double_click"
            self.flush()
        else:
            self.pending = Gesture("click", press.time, frame, {"point": press.point}, {"point": press.window},
                                   button=press.button)
            if press.button != "left":
                self.flush()

    def _scroll(self, event: Event) -> None:
        if event.point is None:
            return  # a wheel event has its point
        pending = self.pending
        if (pending and pending.kind == "scroll" and pending.direction == event.button and pending.steps < 50
                and near(pending.points["point"], event.point, SAME_PLACE)):
            pending.steps += 1
            pending.time = event.time
            return
        self.flush()
        self.pending = Gesture("scroll", event.time, event.frame or self.last_frame, {"point": event.point},
                               {"point": event.window}, direction=event.button, steps=1)

    def _text(self, event: Event) -> None:
        if not (self.pending and self.pending.kind == "type"):
            self.flush()
            self.pending = Gesture("type", event.time, event.frame or self.last_frame)
        self.pending.text += event.text
        if event.keys:
            self.pending.pasted_with.append("+".join(event.keys))

    def _keys(self, event: Event) -> None:
        if event.keys == ("backspace",) and self.pending and self.pending.kind == "type" and self.pending.text:
            self.pending.text = self.pending.text[:-1]  # a typo put right is not part of the text
            return
        self.flush()
        self.finished.append(Gesture("key", event.time, event.frame or self.last_frame, keys=event.keys))


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


def read_clipboard(display: str) -> str:
    try:
        out = subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, timeout=2,
                             env={**os.environ, "DISPLAY": display})
    except FileNotFoundError:
        raise DisplayError("recording pasted text needs xclip: apt-get install xclip") from None
    except subprocess.TimeoutExpired:
        return ""
    return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else ""


def crop_around(frame: Frame, point: Point, width: int = CROP_WIDTH,
                height: int = CROP_HEIGHT) -> tuple[np.ndarray, Point]:
    """A grayscale cut of the frame around a screen point (moved inward at the edges) and where
    the point is in it."""
    x, y = (round(v) for v in frame.geometry.screen_to_image(point))
    x0 = max(0, min(frame.width - width, x - width // 2))
    y0 = max(0, min(frame.height - height, y - height // 2))
    gray = cv2.cvtColor(frame.pixels[y0:y0 + height, x0:x0 + width, :3], cv2.COLOR_BGR2GRAY)
    return gray, (x - x0, y - y0)


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
    crop, crop_point = crop_around(frame, point)
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


class RecentFrames:
    """Screenshots taken every `interval` seconds by a thread of their own, the last few kept."""

    def __init__(self, screen: Screen, interval: float = 0.04, keep: int = 4):
        self.screen, self.interval = screen, interval
        self.frames: deque[Frame] = deque(maxlen=keep)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="recent-frames", daemon=True)

    def start(self) -> None:
        self.frames.append(self.screen.capture())
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=2)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.frames.append(self.screen.capture())

    def before(self, moment: float) -> Frame:
        """The newest screenshot taken before `moment` (time.monotonic()), else a new one."""
        earlier = [frame for frame in list(self.frames) if frame.captured_at < moment]
        return earlier[-1] if earlier else self.screen.capture()


def with_event_time(listener_class):
    """pynput's X listener, keeping the server's time of the event its callback is handling."""
    class Timed(listener_class):  # type: ignore[misc, valid-type]  # a base known only at run time
        event_time = 0.0

        def _handle_message(self, display, event, injected):
            self.event_time = event.time / 1000
            super()._handle_message(display, event, injected)
    return Timed


class Listening:
    """The pynput listeners: their callbacks turn X input into queued events."""

    def __init__(self, display: str | None, stop_keys: str, events: queue.Queue, stopped: threading.Event):
        if not display:
            raise DisplayError("no display: set $DISPLAY or pass --display (start one with `gui-agent sandbox`)")
        self.display, self.events, self.stopped = display, events, stopped
        try:
            self.stop_keys = (set() if stop_keys.lower() == "none"
                              else {a.normalise_key(k) for k in a.split_chord(stop_keys)})
        except ValueError as error:
            raise AgentError(f"stop keys {stop_keys!r}: {error}") from None
        self.held: set[str] = set()
        self.typing = False  # the last key was a character: the next one needs no screenshot
        self.last_scroll: tuple | None = None
        self.closed = False
        os.environ["DISPLAY"] = display  # pynput's X connection reads it at import
        ensure_xauthority()
        try:
            from pynput import keyboard, mouse
        except Exception as error:
            raise DisplayError(f"cannot listen to display {display}: {error}") from None
        self.screen = Screen(display)
        self.recent = RecentFrames(self.screen)
        self.windows = Windows(display)
        self.clock_offset: float | None = None  # time.monotonic() minus the server's time, least held back
        self._buttons = {mouse.Button.left: "left", mouse.Button.right: "right", mouse.Button.middle: "middle"}
        self._key_class = keyboard.Key
        self.keyboard = with_event_time(keyboard.Listener)(on_press=self._key_press, on_release=self._key_release)
        self.mouse = with_event_time(mouse.Listener)(on_move=self._move, on_click=self._click, on_scroll=self._scroll)

    def start(self) -> None:
        self.recent.start()
        for listener in (self.keyboard, self.mouse):
            listener.start()
            listener.wait()

    def stop(self) -> None:
        if self.closed:
            return
        self.closed = True
        for listener in (self.keyboard, self.mouse):
            # not joined: an X listener's thread ends only at its next event; it is a daemon thread
            listener.stop()
        self.recent.stop()
        self.windows.close()
        self.screen.close()

    def _put(self, event: Event) -> None:
        if not self.stopped.is_set():
            self.events.put(event)

    def _server_time(self, listener) -> float:
        """The time of the event being handled, and the clock offset updated with it."""
        behind = time.monotonic() - listener.event_time
        self.clock_offset = behind if self.clock_offset is None else min(self.clock_offset, behind)
        return listener.event_time

    def _frame_before(self, server_time: float) -> Frame:
        return self.recent.before(server_time + (self.clock_offset or 0.0))  # set by _server_time first

    def _move(self, x: int, y: int) -> None:
        self._server_time(self.mouse)

    def _click(self, x: int, y: int, button, pressed: bool) -> None:
        at = self._server_time(self.mouse)
        name = self._buttons.get(button)
        if name is None:
            return
        self.typing, self.last_scroll = False, None
        if pressed:
            self._put(Event(at, "press", (x, y), name, frame=self._frame_before(at),
                            window=self.windows.under_pointer()))
        else:
            self._put(Event(at, "release", (x, y), name))

    def _scroll(self, x: int, y: int, dx: int, dy: int) -> None:
        at = self._server_time(self.mouse)
        direction = ("down" if dy < 0 else "up") if dy else ("right" if dx > 0 else "left")
        first = self.last_scroll != (x, y, direction)  # later notches of a run need no screenshot
        self.last_scroll, self.typing = (x, y, direction), False
        self._put(Event(at, "scroll", (x, y), direction, frame=self._frame_before(at) if first else None,
                        window=self.windows.under_pointer() if first else None))

    def _name(self, key) -> str | None:
        if isinstance(key, self._key_class):
            return key_name(key.name, None, None)
        return key_name(None, getattr(key, "char", None), getattr(key, "vk", None))

    def _key_press(self, key) -> None:
        at = self._server_time(self.keyboard)
        name = self._name(key)
        if name is None:
            return
        self.held.add(name)
        if self.stop_keys and self.stop_keys <= self.held:
            self.held.clear()
            self.stopped.set()
            return
        if name in MODIFIER_ORDER:
            return
        self.last_scroll = None
        modifiers = tuple(m for m in MODIFIER_ORDER if m in self.held)
        chord = (*modifiers, name)
        char = " " if name == "space" else getattr(key, "char", None)
        frame = None if self.typing else self._frame_before(at)
        if chord in PASTE_CHORDS and (pasted := read_clipboard(self.display)):
            self._put(Event(at, "text", text=pasted, keys=chord, frame=frame))
            self.typing = True
        elif char and char.isprintable() and not set(modifiers) - {"shift"}:
            self._put(Event(at, "text", text=char, frame=frame))
            self.typing = True
        else:
            self._put(Event(at, "keys", keys=chord, frame=frame or self._frame_before(at)))
            self.typing = False

    def _key_release(self, key) -> None:
        self._server_time(self.keyboard)
        self.held.discard(self._name(key))


def record(display: str | None, out: Path, stop_keys: str = DEFAULT_STOP_KEYS, description: str = "",
           on_ready=lambda: None, on_step=lambda record: None) -> tuple[str, str, int]:
    """Records what a person does on the display into the episode folder `out`, until the stop
    keys, SIGINT or SIGTERM; `on_ready()` is called once it listens. Returns the status, the end
    message and the number of steps written."""
    events: queue.Queue[Event] = queue.Queue()
    stopped = threading.Event()
    listening = Listening(display, stop_keys, events, stopped)
    try:
        episode = EpisodeWriter(out)
    except EpisodeError:
        listening.stop()
        raise
    status, message = Status.DONE, f"stopped by {stop_keys}"

    def stop_on_signal(signum, _):
        nonlocal message
        message = f"stopped by {signal.Signals(signum).name}"
        stopped.set()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, stop_on_signal) for s in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    first = listening.screen.capture()
    merger, writer = Merger(first), StepWriter(episode, on_step)
    waiting: list[Event] = []
    try:
        listening.start()
        episode.header(task=description, planner=PlannerKind.DEMONSTRATION, agent_version=__version__,
                       settings={"stop_keys": stop_keys}, screen=screen_info(listening.screen, first))
        on_ready()
        while not stopped.is_set():
            waiting = sorted(waiting + taken(events, timeout=0.05), key=lambda e: e.time)
            if listening.clock_offset is None:
                continue
            ready_before = time.monotonic() - listening.clock_offset - REORDER_SECONDS
            while waiting and waiting[0].time < ready_before:
                merger.feed(waiting.pop(0))
            merger.expire(ready_before)
            writer.write_all(merger)
        listening.stop()
        for event in sorted(waiting + taken(events), key=lambda e: e.time):
            merger.feed(event)
        merger.flush()
        writer.write_all(merger)
    except AgentError as error:
        status, message = Status.ERROR, str(error)
    finally:
        listening.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        episode.end(status, message, steps=writer.index)
    return status, message, writer.index


def taken(events: queue.Queue, timeout: float = 0.0) -> list[Event]:
    """Every event queued now, after waiting up to `timeout` for the first."""
    found = []
    try:
        found.append(events.get(timeout=timeout) if timeout else events.get_nowait())
        while True:
            found.append(events.get_nowait())
    except queue.Empty:
        return found


class StepWriter:
    """Writes finished gestures as episode steps, each with its targets described."""

    def __init__(self, episode: EpisodeWriter, on_step):
        self.episode, self.on_step = episode, on_step
        self.ocr = OCR()
        self.index = 0
        self.first_time = 0.0  # the X server's time of the first action; steps say their time from it

    def write_all(self, merger: Merger) -> None:
        while merger.finished:
            self.write(merger.finished.pop(0))

    def write(self, gesture: Gesture) -> None:
        self.index += 1
        self.first_time = self.first_time if self.index > 1 else gesture.time
        frame = gesture.frame
        if frame is None:  # only a Merger given no first frame, and no screenshot since, makes one
            raise AgentError(f"step {self.index} has no screenshot to write")
        targets = {name: describe_target(self.ocr, frame, point, gesture.windows.get(name),
                                         self.episode.out / f"target-{self.index:03d}-{name}.png")
                   for name, point in gesture.points.items()}
        action = gesture.action(frame, element_info=next(iter(targets.values()))["text"] if targets else "")
        record = {"index": self.index, "screenshot": self.episode.screenshot(self.index, frame.png()),
                  "outcome": Outcome.OK, "action": action.model_dump(), "call": action.call(),
                  "screen": {name: list(point) for name, point in gesture.points.items()},
                  "time": round(gesture.time - self.first_time, 3)}
        if targets:
            record["target"] = targets
        if gesture.pasted_with:
            record["pasted_with"] = gesture.pasted_with
        self.episode.step(record)
        self.on_step(record)
