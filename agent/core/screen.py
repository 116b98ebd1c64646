"""Screen capture with mss, frames that know their geometry, and waiting for the screen to settle."""

import os
import select
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from agent.core.damage import Damage, DisplayLost, Drawn
from agent.core.errors import DisplayError
from agent.core.geometry import Geometry, Monitor
from agent.core.png import encode_png
from agent.core.settings import settings


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One screenshot: BGRA pixels and the monitor they show."""

    pixels: np.ndarray
    monitor: Monitor
    captured_at: float = field(default_factory=time.monotonic)
    capture_seconds: float = 0.0
    _png_cache: dict = field(default_factory=dict, repr=False)

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.monitor, self.width, self.height)

    def same_as(self, other: "Frame") -> bool:
        a, b = self.pixels, other.pixels
        if a.shape != b.shape:
            return False
        if a.dtype == b.dtype and a.flags.c_contiguous and b.flags.c_contiguous and a.nbytes % 8 == 0:
            a, b = a.reshape(-1).view(np.uint64), b.reshape(-1).view(np.uint64)  # 8 bytes at a time: about 2x faster
        return np.array_equal(a, b)

    def png(self, scale: float = 1.0) -> bytes:
        """PNG bytes, optionally shrunk (history images go at half size); encoded once per scale."""
        if scale in self._png_cache:
            return self._png_cache[scale]
        image = self.pixels  # resized as BGRA: resizing the strided view pixels[:, :, :3] copies it first
        if scale != 1.0:
            size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        self._png_cache[scale] = encode_png(image)
        return self._png_cache[scale]

    @classmethod
    def from_png(cls, data: bytes, monitor: Monitor | None = None) -> "Frame":
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise DisplayError("the screenshot file is not a readable PNG")
        pixels = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
        height, width = pixels.shape[:2]
        return cls(pixels, monitor or Monitor(0, 0, width, height))


SLOW_POLL = 0.03  # seconds between the frames the pixel settle takes once its quiet period is over
PING_PATIENCE = 1.0  # seconds a window that answers pings is waited for; then it is not, until it answers again
QUIET = 0.025  # seconds with nothing drawn that end a settle once the action's effect was drawn, on idle CPUs
MAX_STRETCH = 3  # times QUIET at most, on CPUs busier than that (see quiet_spell)
WINDOW_QUIET = 0.1  # the same once a managed window mapped or a window changed size: its app fills it in over
# several frames (tens of ms apart under load); or one unmapped after a click or Enter: a menu's item acts once the
# menu is gone
ANIMATION_QUIET = 0.3  # the same once the app drew ANIMATION_FRAMES frames (GTK animates a widget's change of
ANIMATION_FRAMES = 3  # state for up to 0.3 s), or after a key alone that activates a button: GTK draws the button
ACTIVATING_KEYS = {0xFF0D, 0xFF8D, 0x20}  # pressed and clicks it 0.25 s later (Return, KP_Enter, space)
MODIFIER_KEYS = range(0xFFE1, 0xFFEF)  # shift, control, caps lock, meta, alt, super, hyper
SHORTCUT_KEYS = {0xFFE3, 0xFFE4, *range(0xFFE7, 0xFFEF)}  # control, meta, alt, super, hyper: with one, a key
# types nothing
EDITING_KEYS = {0xFF08, 0xFFFF}  # BackSpace, Delete
TYPED_QUIET = 0.25  # seconds after the last key that edits text in a GTK dialog before a settle may end: GTK acts
# on a changed entry after a pause (a file chooser makes Save sensitive 0.15-0.17 s after the last key, a search
# entry searches after 0.15 s), with nothing drawn in between. Not in a main window: typing into a text view
# would pay it for nothing
NOTHING_DRAWN = 0.1  # seconds waited for a first drawing before the screen is taken as it is
FRAME_DRAWN = 0.004  # seconds with nothing drawn that end the drawing of one frame
NEW_WINDOW_PATIENCE = 1.0  # seconds a window that mapped is waited for to draw half its area (a menu, all of it),
# and the area a window left to be drawn over
CALM_ANSWERS = 3  # pings a Tk window answers in a row with nothing drawn that end a settle: Tk sends an answer
# before the drawing of the idle pass after it, and an idle pass may leave work to the next (layout, then redraw)
CARET_WIDTH = 4  # pixels: one change no wider (a caret blinking, an overlay scrollbar fading) is no effect


class Screen:
    """Captures one monitor of one X display."""

    def __init__(self, display: str | None = None, monitor: int = 1):
        named = display or settings().display
        if not named:
            raise DisplayError("no display: set $DISPLAY or pass --display (start one with `gui-agent sandbox`)")
        self.display: str = named
        import mss

        try:
            self._mss = mss.MSS(display=self.display)
            monitors = self._mss.monitors
        except Exception as error:
            raise DisplayError(f"cannot open display {self.display}: {error}; "
                               "is the X server running, and $XAUTHORITY right?") from None
        if not 1 <= monitor < len(monitors):
            raise DisplayError(f"display {self.display} has no monitor {monitor}; it has {len(monitors) - 1}")
        self._region = monitors[monitor]
        self.monitor_index = monitor
        self._pings = Pings.open(self.display)
        self._damage = Damage.open(self.display)

    def capture(self) -> Frame:
        """The screen now; what was drawn before it is no effect of what is done after it."""
        if self._damage:
            try:
                self._damage.read()
            except DisplayLost:  # the grab will say so
                self._damage = None
        return self.grab()

    def grab(self) -> Frame:
        start = time.perf_counter()
        try:
            shot = self._mss.grab(self._region)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__  # mss's may be empty
            raise DisplayError(f"capture from display {self.display} failed ({reason}); is its X server still "
                               "running?") from None
        pixels = np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)
        r = self._region
        monitor = Monitor(r["left"], r["top"], r["width"], r["height"], scale=shot.width / r["width"])
        return Frame(pixels, monitor, capture_seconds=time.perf_counter() - start)

    def settle(self, before: Frame, timeout: float = 3.0, poll: float = 0.005, calm: float = 0.015,
               quiet: float = 0.12) -> tuple[Frame, bool]:
        """The screen once what was done after `before` has been drawn whole, captured then, and whether
        that came before the timeout. First every window that answers pings has answered one sent now, so
        has handled the input sent before it (PING_PATIENCE at most). Then, by what the X server draws:
        once something was drawn that is more than a caret blinking, until nothing is drawn for QUIET
        seconds, longer on busy CPUs (quiet_spell; WINDOW_QUIET once a managed window mapped, a window
        changed size or one unmapped after a click or Enter, which is an effect too; ANIMATION_QUIET once
        the app animates); when nothing is, NOTHING_DRAWN seconds. A new window is waited for until it has
        drawn itself, a menu and the area a window left until drawn over whole; keys that typed into a GTK
        dialog, for TYPED_QUIET. A focused Tk window is settled by pings instead (Settling._hear_tk).
        Without DAMAGE (python-xlib cannot connect), by the pixels alone: settle_by_pixels, with `poll`,
        `calm` and `quiet`."""
        if not self._damage:
            return self.settle_by_pixels(before, timeout, poll, calm, quiet)
        start = time.monotonic()
        if self._pings and self._pings.send():
            self._pings.answered(until=start + timeout)
        try:
            return Settling(self, before, start + timeout).run()
        except DisplayLost:  # capture will say so
            self._damage = None
            return self.settle_by_pixels(before, timeout, poll, calm, quiet)

    def settle_by_pixels(self, before: Frame, timeout: float = 3.0, poll: float = 0.005, calm: float = 0.015,
                         quiet: float = 0.12) -> tuple[Frame, bool]:
        """The settle where the X server reports no drawing: the first frame that changed from `before`
        and then stayed the same for `calm` seconds, counted from when every window that answers pings
        had answered one sent now (waited for PING_PATIENCE at most); when nothing changes, the same after
        `quiet` seconds. Frames are taken every `poll` seconds, every SLOW_POLL once `quiet` is over (an
        animation is not watched at full speed for the whole `timeout`)."""
        start = time.monotonic()
        if self._pings and self._pings.send():
            self._pings.answered(until=start + timeout)  # frames from before the answers would prove nothing
        previous, steady_since, changed, due = before, None, False, time.monotonic()
        while True:
            time.sleep(max(0.0, due - time.monotonic()))
            taken = time.monotonic()
            due = taken + (poll if taken - start < quiet else max(poll, SLOW_POLL))
            frame = self.capture()
            now = frame.captured_at
            if steady_since is None or not frame.same_as(previous):
                steady_since, changed = now, not frame.same_as(before)  # compared now, while there is time
            if now - steady_since >= calm and (changed or now - start >= quiet):
                return frame, True
            if now - start >= timeout:
                return frame, False
            previous = frame

    def close(self) -> None:
        if self._pings:
            self._pings.close()
        if self._damage:
            self._damage.close()
        self._mss.close()


class Settling:
    """One settle by what the X server draws (see Screen.settle)."""

    def __init__(self, screen: Screen, before: Frame, deadline: float):
        self.screen, self.deadline = screen, deadline
        self.started = self.last_change = time.monotonic()
        drawn = screen._damage.read()
        if drawn:  # drawn while the pings were answered, or as this process waited for the CPU: the quiet spell
            self.last_change = time.monotonic()  # is counted from when the drawing was seen, not before
        self.clicked = drawn.clicked  # then a caret that shows is where the click put it: an effect
        self.shown = screen.grab()  # what the screen showed at the last drawing read
        self.effect = self._changed(before, self.shown)
        self.frames = 0  # frames drawn with an effect since the settle began
        self.quiet = quiet_spell()  # WINDOW_QUIET or ANIMATION_QUIET once the app may draw its effect in frames
        self.activated = self.clicked  # by a click or a key: what a menu's item does comes once the menu is gone
        self.undrawn: list[Undrawn] = []  # windows mapped and areas uncovered, not yet drawn over
        self.gone: set[int] = set()  # windows unmapped
        self.typed_at: float | None = None  # when the last key that edits text in a GTK dialog was read
        self.tk = self._answering_tk()  # the focused Tk window and its rectangle, heard by pings (_hear_tk)
        self.awaited: int | None = None  # the serial of the last ping sent it
        self.calm_answers, self.pinged_at = 0, self.started
        self._take(drawn, first=True)
        self._hear_tk(drawn)

    def run(self) -> tuple[Frame, bool]:
        damage = self.screen._damage
        while True:
            due = self._due()
            if due is not None:
                if time.monotonic() >= self.deadline:
                    return self.screen.grab(), False
                damage.wait(min(due, self.deadline))
            drawn = damage.read()  # once settled too: what was drawn while this process waited for the CPU
            if due is None and not drawn:
                return self.screen.grab(), True
            while drawn and time.monotonic() < self.deadline:  # the rest of the frame being drawn (a terminal
                damage.wait(time.monotonic() + FRAME_DRAWN)  # flooded with output draws without a pause)
                if not damage.read_into(drawn):
                    break
            if drawn:
                self._take(drawn)
            self._hear_tk(drawn)

    def _due(self) -> float | None:
        """When to look again; None once settled."""
        now = time.monotonic()
        if self.tk is not None:
            if self.calm_answers >= CALM_ANSWERS:
                return None
            if now < self.pinged_at + PING_PATIENCE:
                return self.pinged_at + PING_PATIENCE
            self.tk = None  # it stopped answering: the quiet spell decides
        waited = [area.since + NEW_WINDOW_PATIENCE for area in self.undrawn]
        if self.effect:
            due = self.last_change + self.quiet
        else:
            due = self.started + NOTHING_DRAWN
        if self.typed_at is not None:
            waited.append(self.typed_at + TYPED_QUIET)
        due = max([due, *waited])
        return None if now >= due else due

    def _take(self, drawn: Drawn, first: bool = False) -> None:
        now = time.monotonic()
        keys = [key for key in drawn.keys if key not in MODIFIER_KEYS]
        if len(keys) == 1 and keys[0] in ACTIVATING_KEYS:
            self.quiet = ANIMATION_QUIET
        self.activated |= any(key in ACTIVATING_KEYS for key in keys)
        if edits_text(drawn.keys) and self.screen._damage.focus_in_gtk_dialog():
            self.typed_at = now
        self._wait_for_windows(drawn, now)
        if not drawn.rects and not drawn.windows_changed:
            return  # keys alone
        frame = self.shown if first else self.screen.grab()  # the first drawings: shown was just grabbed
        if drawn.windows_changed or self._changed(self.shown, frame):
            self.effect = True
            self.frames += not first
            if self.frames >= ANIMATION_FRAMES:
                self.quiet = ANIMATION_QUIET
        if drawn.windows_changed or self.quiet == ANIMATION_QUIET or not frame.same_as(self.shown):  # a caret too
            self.last_change = now  # while animated, a redraw that looks the same: the app is at work
        self.shown = frame

    def _wait_for_windows(self, drawn: Drawn, now: float) -> None:
        """Windows mapped and areas that windows unmapped from are waited for until drawn over: a popup
        (a menu, a list dropping down) and an uncovered area whole, then QUIET; a managed window by half,
        and WINDOW_QUIET (its app fills it in over several frames, tens of ms apart under load). So too an
        unmap after a click or Enter, and a change of size: the item chosen acts once its menu is gone."""
        size = self.screen._damage.size
        self.undrawn = [area for area in self.undrawn if area.window not in drawn.unmapped or area.uncovered]
        for area in self.undrawn:
            area.draw(drawn.rects)
        uncovered = {} if self.activated else drawn.unmapped
        for window, (rect, since) in drawn.mapped.items():
            self.undrawn.append(Undrawn(window, now, rect, size, whole=window in drawn.popups))
            self.undrawn[-1].draw(drawn.rects[since:])
        for window, (rect, since) in uncovered.items():
            self.undrawn.append(Undrawn(window, now, rect, size, whole=True, uncovered=True))
            self.undrawn[-1].draw(drawn.rects[since:])
        self.undrawn = [area for area in self.undrawn if not area.drawn]
        self.gone |= set(drawn.unmapped)  # a window manager resizes the frame of a window that unmaps
        if set(drawn.mapped) - drawn.popups or set(drawn.unmapped) - set(uncovered) or drawn.resized - self.gone:
            self.quiet = max(self.quiet, WINDOW_QUIET)

    def _answering_tk(self) -> tuple[int, tuple[int, int, int, int]] | None:
        pings = self.screen._pings
        tk = self.screen._damage.focused_tk()
        return tk if tk and pings and tk[0] in pings.answering else None

    def _hear_tk(self, drawn: Drawn) -> None:
        """Pings the focused Tk window again each time it answered or drew, while all that is drawn is
        drawn in it. Tk answers a ping once it has handled the events queued before it, and sends the
        answer before what its next idle pass draws; the answer to the next ping comes after that drawing.
        So a Tk window is settled once it answered CALM_ANSWERS pings in a row with nothing drawn between,
        however long it takes to draw (PING_PATIENCE at most between answers), and not by the quiet spell."""
        if self.tk is None:
            return
        window, rect = self.tk
        if drawn.windows_changed or not all(inside(r, rect) for r in drawn.rects):
            self.tk = None  # another window drew, or one mapped: the quiet spell decides
            return
        if drawn.rects:
            self.calm_answers = 0
        elif self.awaited in drawn.answered:
            self.calm_answers += 1
        elif self.awaited is not None:
            return
        self.awaited, self.pinged_at = self.screen._damage.ping(window), time.monotonic()

    def _changed(self, a: Frame, b: Frame) -> bool:
        return not a.same_as(b) if self.clicked else changed_beyond_caret(a, b)


def quiet_spell() -> float:
    """QUIET, stretched by how many tasks wait to run per CPU (the load average), up to MAX_STRETCH times:
    an app kept waiting for a CPU draws the frames of one effect further apart (galculator's, 17 ms apart
    on idle CPUs, up to 42 ms apart at load 10 on 2 CPUs)."""
    waiting = os.getloadavg()[0] / (os.cpu_count() or 1)
    return QUIET * min(MAX_STRETCH, max(1.0, waiting))


def inside(rect: tuple[int, int, int, int], area: tuple[int, int, int, int]) -> bool:
    x, y, width, height = rect
    left, top, area_width, area_height = area
    return left <= x and top <= y and x + width <= left + area_width and y + height <= top + area_height


def edits_text(keys: list[int]) -> bool:
    """Whether the keys pressed type or delete text: a printable key or BackSpace/Delete, no control or alt."""
    if any(key in SHORTCUT_KEYS for key in keys):
        return False
    return any(0x20 <= key <= 0x7E or 0xA0 <= key < 0xFF00 or key >= 0x1000000 or key in EDITING_KEYS
               for key in keys)


class Undrawn:
    """A window that mapped, or the area one left when it unmapped, and what of it is not yet drawn over."""

    def __init__(self, window: int, since: float, rect: tuple[int, int, int, int], screen: tuple[int, int],
                 whole: bool, uncovered: bool = False):
        self.window, self.since, self.uncovered, self.whole = window, since, uncovered, whole
        x, y, width, height = rect
        self.left, self.top = max(0, x), max(0, y)  # only what is on the screen is drawn
        self.blank = np.ones((max(0, min(x + width, screen[0]) - self.left),
                              max(0, min(y + height, screen[1]) - self.top)), bool)

    def draw(self, rects: list[tuple[int, int, int, int]]) -> None:
        for x, y, width, height in rects:
            x, y = x - self.left, y - self.top
            self.blank[max(0, x):max(0, x + width), max(0, y):max(0, y + height)] = False

    @property
    def drawn(self) -> bool:
        return not self.blank.any() if self.whole else self.blank.sum() <= self.blank.size / 2


def changed_beyond_caret(a: Frame, b: Frame) -> bool:
    """Whether the frames differ by more than one change CARET_WIDTH pixels wide or less (a caret blinking,
    a scrollbar fading); two are a caret moving, more a layout moving by a pixel or two."""
    if a.same_as(b):
        return False
    if a.pixels.shape != b.pixels.shape:
        return True
    mask = a.pixels.view(np.uint32)[:, :, 0] != b.pixels.view(np.uint32)[:, :, 0]  # X leaves alpha alone
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return False
    mask = mask[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1].astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    return count - 1 > 1 or bool((stats[1:count, cv2.CC_STAT_WIDTH] > CARET_WIDTH).any())


class Pings:
    """EWMH's _NET_WM_PING to the windows the window manager lists that answer one. An app answers when
    its event loop gets to the ping, so after the events the X server had queued for it before (the
    input just sent), where the app handles them before it reads on (Tk; GTK answers as it reads its
    events, before handling them). A window that unmaps or closes is not waited for.

    Only windows whose WM_PROTOCOLS lists _NET_WM_PING (GTK, Qt, browsers) are pinged, and Tk's, which
    answer without saying so: an Xt app such as xterm takes any WM_PROTOCOLS message for
    WM_DELETE_WINDOW and quits."""

    def __init__(self, display_name: str):
        from Xlib import X, display

        from agent.core.executors import ensure_xauthority

        ensure_xauthority()
        self._x = display.Display(display_name)
        self._x.set_error_handler(lambda *error: None)  # a window closed before its ping reached it
        self._root = self._x.screen().root
        self._root.change_attributes(event_mask=X.SubstructureNotifyMask)  # answers are sent to the root window
        self._clients, self._protocols, self._ping = (self._x.intern_atom(name) for name in
                                                      ("_NET_CLIENT_LIST", "WM_PROTOCOLS", "_NET_WM_PING"))
        self.answering: set[int] = set()  # windows that answered a ping: the ones waited for
        self._may_ping: dict[int, bool] = {}  # window -> whether it takes pings
        self._waiting: dict[int, int] = {}  # serial of an unanswered ping -> its window
        self._serial, self._sent = 0, 0.0
        self.send()  # the answers tell, before the first settle, which windows answer

    @classmethod
    def open(cls, display: str) -> "Pings | None":
        """None where python-xlib cannot connect: settle then goes by the pixels alone."""
        try:
            return cls(display)
        except Exception:  # python-xlib's connection and authority errors
            return None

    def send(self) -> "Pings | None":
        """A ping to every listed window that takes one. None when the connection failed."""
        from Xlib import X
        from Xlib.protocol import event

        try:
            self._read()
            self._waiting = {}
            listed = self._root.get_full_property(self._clients, X.AnyPropertyType)
            for window_id in listed.value if listed else []:
                window = self._x.create_resource_object("window", window_id)
                if not self._takes_pings(window):
                    continue
                self._serial += 1
                window.send_event(event.ClientMessage(window=window, client_type=self._protocols,
                                                      data=(32, [self._ping, self._serial, window_id, 0, 0])),
                                  event_mask=0)
                self._waiting[self._serial] = window_id
            self._x.flush()
        except Exception:  # the display went away: capture will say so
            return None
        self._sent = time.monotonic()
        return self

    def answered(self, until: float) -> bool:
        """Whether every window that answers pings has answered the last one, waiting for that until
        the time.monotonic() `until` at most. A window silent for PING_PATIENCE (hung, or busy with
        something else) is no longer waited for, until it answers again."""
        try:
            while True:
                self._read()
                late = {window for window in self._waiting.values() if window in self.answering}
                if not late:
                    return True
                if time.monotonic() - self._sent >= PING_PATIENCE:
                    self.answering -= late
                    return True
                left = min(until, self._sent + PING_PATIENCE) - time.monotonic()
                if left <= 0:
                    return False
                select.select([self._x.fileno()], [], [], left)
        except Exception:  # the display went away: capture will say so
            return True

    def _takes_pings(self, window) -> bool:
        if window.id not in self._may_ping:
            try:
                protocols, names = window.get_wm_protocols() or [], window.get_wm_class() or ("", "")
            except Exception:  # the window is gone
                return False
            self._may_ping[window.id] = self._ping in protocols or names[1] == "Tk"
            if self._may_ping[window.id]:
                from Xlib import X

                window.change_attributes(event_mask=X.StructureNotifyMask)  # a window that closes is not waited for
        return self._may_ping[window.id]

    def _read(self) -> None:
        from Xlib import X

        while self._x.pending_events():
            message = self._x.next_event()
            if message.type == X.ClientMessage and message.client_type == self._protocols:
                kind, serial, window = message.data[1][:3]
                if kind == self._ping and 0 < serial <= self._serial:
                    self.answering.add(window)
                    self._waiting.pop(serial, None)
            elif message.type in (X.UnmapNotify, X.DestroyNotify):
                self._waiting = {serial: w for serial, w in self._waiting.items() if w != message.window.id}

    def close(self) -> None:
        try:
            self._x.close()
        except Exception:  # the display went away first
            pass
