"""What the X server draws, as it draws it: the DAMAGE extension on the root window (with no compositor
every window draws into the root's pixels, so its damage covers them all) and the top-level windows
that map, unmap or change size."""

import select
import struct
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

Rect = tuple[int, int, int, int]  # x, y, width, height
PING_SERIALS = 1 << 30  # the first serial of the pings sent here


class DisplayLost(Exception):
    """The connection to the X server broke."""


@dataclass
class Drawn:
    """What was read from the server since the last read."""

    rects: list[Rect] = field(default_factory=list)
    mapped: dict[int, tuple[Rect, int]] = field(default_factory=dict)  # window -> its rectangle, rects before it
    popups: set[int] = field(default_factory=set)  # the mapped windows no window manager manages: menus, lists
    unmapped: dict[int, tuple[Rect, int]] = field(default_factory=dict)  # window -> the area it left, rects before
    resized: set[int] = field(default_factory=set)
    keys: list[int] = field(default_factory=list)  # keysyms pressed, by anyone
    answered: set[int] = field(default_factory=set)  # serials of the pings sent by `Damage.ping` answered
    clicked: bool = False  # a pointer button was pressed

    def __bool__(self) -> bool:
        return bool(self.rects or self.mapped or self.unmapped or self.resized)

    @property
    def windows_changed(self) -> bool:
        return bool(self.mapped or self.unmapped or self.resized)


class Damage:
    """One connection that reports every drawing on the screen and every top-level window mapped,
    unmapped or resized; read with `wait` and `read`."""

    def __init__(self, display_name: str):
        from Xlib import X, display
        from Xlib.ext import damage

        from agent.core.executors import ensure_xauthority

        ensure_xauthority()
        self._x = display.Display(display_name)
        try:
            if not self._x.has_extension("DAMAGE"):
                raise OSError("the X server has no DAMAGE extension")
            self._x.damage_query_version()
            self._x.set_error_handler(lambda *error: None)  # a window gone before its geometry was asked
            self._root = self._x.screen().root
            self.size = (self._x.screen().width_in_pixels, self._x.screen().height_in_pixels)
            self._root.change_attributes(event_mask=X.SubstructureNotifyMask)
            self._root.damage_create(damage.DamageReportRawRectangles)
            self._listen_to_keys()
            self._x.sync()
        except Exception:
            self._x.close()
            raise
        self._places: dict[int, Rect] = {}  # top-level window -> its rectangle, as last mapped or configured
        self._gtk_dialog: dict[int, bool] = {}  # focused window -> whether it is in a GTK dialog
        self._gtk_mark = self._x.intern_atom("_GTK_THEME_VARIANT")  # GTK 3 sets it on each of its windows
        self._window_type = self._x.intern_atom("_NET_WM_WINDOW_TYPE")
        self._dialog = self._x.intern_atom("_NET_WM_WINDOW_TYPE_DIALOG")
        self._protocols, self._ping = self._x.intern_atom("WM_PROTOCOLS"), self._x.intern_atom("_NET_WM_PING")
        self._serial = PING_SERIALS  # apart from the serials of screen.Pings, which read the same answers
        self._tk: dict[int, int | None] = {}  # focused window -> the Tk top-level window it is in, if any

    def _listen_to_keys(self) -> None:
        """XInput 2's raw key and button presses, which reach a client whatever window has the focus."""
        from Xlib.ext import xinput

        self._raw_key = self._raw_button = None
        if self._x.has_extension(xinput.extname):
            opcode = self._x.display.get_extension_major(xinput.extname)
            xinput.XIQueryVersion(display=self._x.display, opcode=opcode, major_version=2, minor_version=2)  # from
            # 2.1 on, raw events come during another client's grab too (a menu's)
            self._root.xinput_select_events([(xinput.AllMasterDevices,
                                              xinput.RawKeyPressMask | xinput.RawButtonPressMask)])
            self._raw_key, self._raw_button = (opcode, xinput.RawKeyPress), (opcode, xinput.RawButtonPress)

    @classmethod
    def open(cls, display: str) -> "Damage | None":
        """None where python-xlib cannot connect or the server lacks DAMAGE: settle then goes by pixels."""
        try:
            return cls(display)
        except Exception:  # python-xlib's connection and authority errors, a missing extension
            return None

    def wait(self, until: float) -> None:
        """Until something was drawn, or the time.monotonic() `until`."""
        left = until - time.monotonic()
        with lost_as_display_lost():
            if left > 0 and not self._x.pending_events():
                select.select([self._x.fileno()], [], [], left)

    def read(self) -> Drawn:
        """Everything the server reported that has reached this process; never blocks."""
        drawn = Drawn()
        self.read_into(drawn)
        return drawn

    def read_into(self, drawn: Drawn) -> bool:
        """Adds what the server reported since to `drawn`; whether there was anything."""
        anything = False
        with lost_as_display_lost():
            while count := self._x.pending_events():  # each call reads the socket: once per batch, not per event
                anything = True
                for _ in range(count):
                    self._take(self._x.next_event(), drawn)
        return anything

    def _take(self, event, drawn: Drawn) -> None:
        from Xlib import X

        if event.type == X.ClientMessage:
            if event.client_type == self._protocols and event.data[1][0] == self._ping:
                drawn.answered.add(event.data[1][1])
        elif event.type == X.MapNotify:
            drawn.mapped[event.window.id] = (self._rect_of(event.window), len(drawn.rects))
            if event.override:
                drawn.popups.add(event.window.id)
        elif event.type == X.UnmapNotify:
            place = self._places.get(event.window.id) or self._rect_of(event.window)
            drawn.unmapped[event.window.id] = (place, len(drawn.rects))
            drawn.mapped.pop(event.window.id, None)
        elif event.type == X.MappingNotify:  # the typing binds keysyms to spare keycodes: read keys by the new map
            self._x.refresh_keyboard_mapping(event)
        elif event.type == X.ConfigureNotify:
            place = (event.x, event.y, event.width, event.height)
            if self._places.get(event.window.id, place)[2:] != place[2:]:
                drawn.resized.add(event.window.id)
            self._places[event.window.id] = place
        elif (getattr(event, "extension", None), getattr(event, "evtype", None)) == self._raw_key:
            keycode = struct.unpack_from("=I", event.data, 6)[0]  # after the device (2 bytes) and time (4)
            drawn.keys.append(self._x.keycode_to_keysym(keycode, 0))
        elif (getattr(event, "extension", None), getattr(event, "evtype", None)) == self._raw_button:
            drawn.clicked = True
        elif hasattr(event, "area"):
            area = event.area
            drawn.rects.append((area.x, area.y, area.width, area.height))

    def _rect_of(self, window) -> Rect:
        try:
            g = window.get_geometry()
        except Exception:  # the window is gone already
            return (0, 0, 0, 0)
        self._places[window.id] = (g.x, g.y, g.width, g.height)
        return self._places[window.id]

    def focus_in_gtk_dialog(self) -> bool:
        """Whether the window with the keyboard focus is in a GTK dialog (a file chooser, a rename dialog)."""
        with lost_as_display_lost():
            window = self._x.get_input_focus().focus
            if isinstance(window, int) or window == self._root:  # None or PointerRoot
                return False
            if window.id not in self._gtk_dialog:
                self._gtk_dialog[window.id] = self._is_gtk_dialog(window)
            return self._gtk_dialog[window.id]

    def _is_gtk_dialog(self, window) -> bool:
        """Whether the window, or the top-level window it is in (GTK focuses a child of it), is a GTK dialog."""
        from Xlib import Xatom

        try:
            while window != self._root:
                properties = window.list_properties() or []
                if self._gtk_mark in properties:
                    kind = window.get_full_property(self._window_type, Xatom.ATOM)
                    return self._dialog in (kind.value if kind else []) or Xatom.WM_TRANSIENT_FOR in properties
                if Xatom.WM_CLASS in properties:  # a top-level window, not GTK's
                    return False
                window = window.query_tree().parent
        except Exception:  # the window is gone
            pass
        return False

    def focused_tk(self) -> tuple[int, Rect] | None:
        """The Tk top-level window with the keyboard focus and its rectangle on the screen, if it is one."""
        with lost_as_display_lost():
            focus = self._x.get_input_focus().focus
            if isinstance(focus, int) or focus == self._root:  # None or PointerRoot
                return None
            if focus.id not in self._tk:
                self._tk[focus.id] = self._tk_top_level(focus)
            if self._tk[focus.id] is None:
                return None
            window = self._x.create_resource_object("window", self._tk[focus.id])
            try:
                geometry = window.get_geometry()
                place = window.translate_coords(self._root, 0, 0)
            except Exception:  # the window is gone
                return None
            return window.id, (-place.x, -place.y, geometry.width, geometry.height)

    def _tk_top_level(self, window) -> int | None:
        from Xlib import Xatom

        try:
            while window != self._root:
                if Xatom.WM_CLASS in (window.list_properties() or []):
                    return window.id if (window.get_wm_class() or ("", ""))[1] == "Tk" else None
                window = window.query_tree().parent
        except Exception:  # the window is gone
            pass
        return None

    def ping(self, window: int) -> int:
        """Sends _NET_WM_PING to the window; its answer comes, in `Drawn.answered`, after the drawing the
        server did before it. Returns the ping's serial."""
        from Xlib.protocol import event

        self._serial += 1
        with lost_as_display_lost():
            target = self._x.create_resource_object("window", window)
            target.send_event(event.ClientMessage(window=target, client_type=self._protocols,
                                                  data=(32, [self._ping, self._serial, window, 0, 0])), event_mask=0)
            self._x.flush()
        return self._serial

    def close(self) -> None:
        try:
            self._x.close()
        except Exception:  # the display went away first
            pass



@contextmanager
def lost_as_display_lost():
    from Xlib.error import ConnectionClosedError, XError

    try:
        yield
    except (ConnectionClosedError, XError, OSError) as error:
        raise DisplayLost(str(error)) from None
