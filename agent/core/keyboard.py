"""Typing by keysym through XTest, as `xdotool type` does, so that what arrives is what was asked on
any keymap: each character is the keysym it stands for, pressed on the key (and shift level) that makes
it on the current keymap, or on a spare keycode bound to it when no key does.

- Shift is pressed only where the level needs it (pyautogui adds it for `<`, which Xvfb's keymap has
  unshifted on its own key, and so typed `>`); modifier keys held down are let go first and Caps Lock
  is turned off for the time of the text.
- A keycode bound to a keysym stays bound, for the texts that follow, until `restore()` at the exit
  or a stop: an app reads the keymap only when it handles the key (unbound sooner, xterm got nothing
  for it), and a Tk app clicked just after an unbinding often kept the focus where it was. With more
  keysyms than spare keycodes, the one bound longest ago is bound anew once REBIND_WAIT has passed
  since its last press (sooner, xterm typed the new keysym for the old).
- Keys go at once, but in an app that ignores a key pressed again while its button shows pressed
  (calculators: galculator shows a key's button pressed for 100 ms after it handles the key; it lost
  the last 5 of `125+375`), told by the WM_CLASS of the window with the focus or when that cannot be
  told. There a key is pressed again DEBOUNCE_GAP after the app has answered a ping sent after its
  last press (it has handled the key by then), or REPEAT_GAP after that press where the app answers
  no ping. xterm, Chromium, GTK entries and text views and Tk took keys unpaced without a loss.
"""

import select
import time
from dataclasses import dataclass
from typing import Any

from Xlib import XK, X, display
from Xlib.error import XError
from Xlib.ext import xtest
from Xlib.protocol import event

from agent.core.errors import ActionError

REPEAT_GAP = 0.15  # seconds between two presses of one key in an app that debounces keys and answers no ping
DEBOUNCE_GAP = 0.13  # seconds from an app's answer to a ping sent after a key's press to that key's next press
PING_PATIENCE = 1.0  # seconds an app is given to answer a ping: a key is taken as handled this long after its press
DEBOUNCING_CLASSES = ("calc", "alcul")  # WM_CLASS parts of apps that ignore a key pressed again too soon: calculators
REBIND_WAIT = 0.5  # seconds the app gets to handle the keys of a spare keycode before it is bound anew
BOUND_WAIT = 0.1  # seconds the apps get to read a keymap with new keysyms bound before their keys are pressed
KEYMAP_CALM = 0.5  # seconds after a keymap change before the pointer acts (see Keyboard.calm)
RETURN, TAB, CAPS_LOCK = 0xFF0D, 0xFF09, 0xFFE5
NAMED_KEYSYMS = {
    "ctrl": "Control_L", "shift": "Shift_L", "alt": "Alt_L", "win": "Super_L", "enter": "Return", "tab": "Tab",
    "space": "space", "backspace": "BackSpace", "delete": "Delete", "escape": "Escape", "home": "Home",
    "end": "End", "pageup": "Prior", "pagedown": "Next", "up": "Up", "down": "Down", "left": "Left",
    "right": "Right", "insert": "Insert", "capslock": "Caps_Lock", "printscreen": "Print", "apps": "Menu",
    "pause": "Pause", "numlock": "Num_Lock", "scrolllock": "Scroll_Lock", **{f"f{n}": f"F{n}" for n in range(1, 25)},
}


def keysym_of(char: str) -> int:
    """The keysym that types `char`: Latin-1 is its own code, the rest of Unicode 0x1000000 + its code."""
    if char in "\n\r":
        return RETURN
    if char == "\t":
        return TAB
    code = ord(char)
    if code < 0x20 or 0x7F <= code < 0xA0:
        raise ActionError(f"cannot type the control character U+{code:04X}; type text, or press a key by name")
    return code if code < 0x100 else 0x1000000 + code


def keysym_of_key(name: str) -> int:
    """The keysym of a key name of the action space (ctrl, enter, f5) or of a single character."""
    return XK.string_to_keysym(NAMED_KEYSYMS[name]) if name in NAMED_KEYSYMS else keysym_of(name)


@dataclass(frozen=True, slots=True)
class Stroke:
    keycode: int
    shift: bool  # the keysym is on the key's second level


class Keyboard:
    """Presses keysyms on an X display through an XTest connection of its own."""

    def __init__(self, display_name: str):
        self.x = display.Display(display_name)
        self.bound: dict[int, int] = {}  # keysym -> the spare keycode bound to it, oldest first
        self.load_keymap()
        self.spare = sorted((keycode for keycode, row in self.rows.items() if not any(row)), reverse=True)
        self.pressed_at: dict[int, float] = {}  # keycode -> when it was last pressed
        self.handled_by: dict[int, float] = {}  # keycode -> when the app had handled its last press
        self.debounces = True  # the focused app ignores keys pressed again too soon
        self.app: Any = None  # its window
        self.pings: Any = None  # an X connection of its own that hears the apps' answers to pings
        self.serial = 0
        self.protocols, self.ping = self.x.intern_atom("WM_PROTOCOLS"), self.x.intern_atom("_NET_WM_PING")
        self.changed_at = float("-inf")  # when this keyboard last changed the keymap
        self.shift_key = self.x.keysym_to_keycode(XK.XK_Shift_L) or self.x.get_modifier_mapping()[X.ShiftMapIndex][0]
        self.shift_down = False

    def load_keymap(self) -> None:
        """Reads the keymap (again: a layout may have changed since): the key and level of each keysym."""
        info = self.x.display.info
        first = info.min_keycode
        rows = self.x.get_keyboard_mapping(first, info.max_keycode - first + 1)
        self.rows = {first + index: list(row) for index, row in enumerate(rows)}
        self.keys: dict[int, Stroke] = {}
        for level in (1, 0):  # the first level wins, then the lowest keycode
            for keycode in sorted(self.rows, reverse=True):
                if keysym := self.rows[keycode][level]:
                    self.keys[keysym] = Stroke(keycode, bool(level))

    def stroke(self, keysym: int) -> Stroke:
        """The key and level that make `keysym`: the keymap's first two levels, else a spare keycode
        bound to it (the one bound longest ago when none is free)."""
        if keysym not in self.keys:
            keycode = self._next_spare(keysym)
            for old, bound in list(self.bound.items()):
                if bound == keycode:
                    del self.bound[old], self.keys[old]
            self._map(keycode, keysym)
            self.bound[keysym] = keycode
            self.keys[keysym] = Stroke(keycode, False)
        return self.keys[keysym]

    def _next_spare(self, keysym: int) -> int:
        free = [keycode for keycode in self.spare if keycode not in self.bound.values()]
        if free:
            return free[0]
        if not self.bound:
            raise ActionError(f"the keymap has no key for keysym 0x{keysym:x} and no spare keycode to bind it to")
        return next(iter(self.bound.values()))

    def _wait_before(self, keysym: int) -> float:
        """Seconds to wait before typing `keysym`: its spare keycode, bound to another keysym, was pressed
        less than REBIND_WAIT ago; or the focused app debounces keys and its key was pressed less than
        DEBOUNCE_GAP before the app answered a ping (less than REPEAT_GAP ago where it answers none)."""
        if keysym not in self.keys:
            keycode = self._next_spare(keysym)
            return self.pressed_at.get(keycode, -REBIND_WAIT) + REBIND_WAIT - time.monotonic()
        keycode = self.keys[keysym].keycode
        pressed = self.pressed_at.get(keycode)
        if not self.debounces or pressed is None or time.monotonic() - pressed >= PING_PATIENCE + DEBOUNCE_GAP:
            return 0.0
        if self.app is None:
            return pressed + REPEAT_GAP - time.monotonic()
        if keycode not in self.handled_by:
            self._ping_app()
        return self.handled_by[keycode] + DEBOUNCE_GAP - time.monotonic()

    def _ping_app(self) -> None:
        """Pings the focused app and waits for its answer (PING_PATIENCE at most): its event loop has come
        to the keys pressed before by then. Counted from the answer, galculator lost no key with a gap of
        0.11 s (load average 8.7), and lost keys with 0.10 s; counted from the press, 0.13 s lost one."""
        self.x.sync()  # the keys pressed so far have reached the app before the ping
        if self.pings is None:
            self.pings = display.Display(self.x.get_display_name())
            self.pings.set_error_handler(lambda *error: None)  # the app closed before the ping reached it
        root, self.serial = self.pings.screen().root, self.serial + 1
        root.change_attributes(event_mask=X.SubstructureNotifyMask)  # answers are sent to the root window
        app = self.pings.create_resource_object("window", self.app.id)
        app.send_event(event.ClientMessage(window=app, client_type=self.protocols,
                                           data=(32, [self.ping, self.serial, app.id, 0, 0])), event_mask=0)
        self.pings.flush()
        sent = time.monotonic()
        try:
            while (left := sent + PING_PATIENCE - time.monotonic()) > 0 and not self._answered(self.serial):
                select.select([self.pings.fileno()], [], [], left)
        finally:
            root.change_attributes(event_mask=X.NoEventMask)
            self.pings.flush()
        answered = time.monotonic()
        for keycode, pressed in self.pressed_at.items():
            self.handled_by.setdefault(keycode, min(answered, pressed + PING_PATIENCE))

    def _answered(self, serial: int) -> bool:
        while self.pings.pending_events():
            message = self.pings.next_event()
            if message.type == X.ClientMessage and list(message.data[1][:2]) == [self.ping, serial]:
                return True
        return False

    def _look_at_focus(self) -> None:
        """Finds out whether the app with the keyboard focus debounces keys (DEBOUNCING_CLASSES; yes when
        that cannot be told), and its window if it answers pings."""
        self.debounces, self.app = True, None
        try:
            window = self.x.get_input_focus().focus
            while hasattr(window, "get_wm_class"):  # focus can also be the numbers None or PointerRoot
                if names := window.get_wm_class():
                    self.debounces = any(part in name.lower() for name in names for part in DEBOUNCING_CLASSES)
                    self.app = window if self.ping in (window.get_wm_protocols() or []) else None
                    return
                parent = window.query_tree().parent
                window = None if parent.id in (X.NONE, self.x.screen().root.id) else parent
        except XError:  # the window closed meanwhile
            self.debounces, self.app = True, None

    def _map(self, keycode: int, keysym: int) -> None:
        width = len(self.rows[keycode])
        self.x.change_keyboard_mapping(keycode, [(keysym, keysym) + (X.NoSymbol,) * (width - 2)])
        self.changed_at = time.monotonic()

    def calm(self) -> None:
        """Waits until KEYMAP_CALM has passed since the last keymap change: a Tk entry clicked 0.2 s after
        one took the keyboard focus only once more keys came (2 of 2 runs under openbox; none of 8 at
        0.3-0.5 s)."""
        time.sleep(max(0.0, self.changed_at + KEYMAP_CALM - time.monotonic()))

    def restore(self) -> None:
        """Unbinds the spare keycodes bound for typing (X.NoSymbol everywhere, as they were)."""
        for keysym, keycode in self.bound.items():
            self._map(keycode, X.NoSymbol)
            del self.keys[keysym]
        self.bound.clear()
        self.x.sync()

    def keysyms(self, text: str) -> list[int]:
        """The keysyms that type `text`, with spare keycodes bound to those the keymap has no key for (see
        _bind_ahead); ActionError if a character cannot be typed."""
        keysyms = [keysym_of(char) for char in text]
        self.load_keymap()
        self._bind_ahead(keysyms)
        return keysyms

    def clear_modifiers(self) -> bool:
        """Lets go of modifier keys held down and turns Caps Lock off; whether Caps Lock was on."""
        held = self.x.query_keymap()
        for keycode in {keycode for row in self.x.get_modifier_mapping() for keycode in row if keycode}:
            if held[keycode // 8] >> (keycode % 8) & 1:
                xtest.fake_input(self.x, X.KeyRelease, keycode)
        self.shift_down = False
        caps_on = bool(self.x.screen().root.query_pointer().mask & X.LockMask)
        if caps_on:
            self.toggle_caps_lock()
        return caps_on

    def toggle_caps_lock(self) -> None:
        keycode = self.stroke(CAPS_LOCK).keycode
        xtest.fake_input(self.x, X.KeyPress, keycode)
        xtest.fake_input(self.x, X.KeyRelease, keycode)
        self.x.sync()

    def type(self, keysyms: list[int]) -> int:
        """Types keysyms from the first until one must wait (see _wait_before), waiting first if the
        first must; returns how many it sent. Shift stays down across shifted characters."""
        self._look_at_focus()
        sent = 0
        for keysym in keysyms:
            wait = self._wait_before(keysym)
            if wait > 0:
                if sent:
                    break
                self.x.flush()
                time.sleep(wait)
            stroke = self.stroke(keysym)
            if stroke.shift != self.shift_down:
                xtest.fake_input(self.x, X.KeyPress if stroke.shift else X.KeyRelease, self.shift_key)
                self.shift_down = stroke.shift
            xtest.fake_input(self.x, X.KeyPress, stroke.keycode)
            xtest.fake_input(self.x, X.KeyRelease, stroke.keycode)
            self.pressed_at[stroke.keycode] = time.monotonic()
            self.handled_by.pop(stroke.keycode, None)
            sent += 1
        self.x.flush()
        return sent

    def _bind_ahead(self, keysyms: list[int]) -> None:
        """Binds the spare keycodes free for the keysyms of a text not on the keymap before any key is
        pressed, then gives the apps BOUND_WAIT to read the new map, once for the whole text: the Tk editor
        typed nothing for 京 bound just after 東 was pressed (1 run in 4)."""
        free = len([keycode for keycode in self.spare if keycode not in self.bound.values()])
        missing = [keysym for keysym in dict.fromkeys(keysyms) if keysym not in self.keys][:free]
        if missing:
            for keysym in missing:
                self.stroke(keysym)
            self.x.sync()
            time.sleep(BOUND_WAIT)

    def can_type(self, keysyms: list[int]) -> bool:
        """Whether every keysym is on the keymap or a spare keycode can be bound to it."""
        return bool(self.spare) or all(keysym in self.keys for keysym in keysyms)

    def finish(self, caps_lock_was_on: bool) -> None:
        """Lets go of shift, and turns Caps Lock on again if clear_modifiers turned it off."""
        if self.shift_down:
            xtest.fake_input(self.x, X.KeyRelease, self.shift_key)
            self.shift_down = False
        if caps_lock_was_on:
            self.toggle_caps_lock()
        self.x.sync()

    def chord(self, keys: list[str]) -> None:
        """Presses keys in order and lets go of them in reverse (ctrl+s); a character on a key's second
        level is pressed with shift."""
        self.load_keymap()
        strokes = [self.stroke(keysym_of_key(key)) for key in keys]
        if any(stroke.shift for stroke in strokes) and "shift" not in keys:
            strokes.insert(0, Stroke(self.shift_key, False))
        for stroke in strokes:
            xtest.fake_input(self.x, X.KeyPress, stroke.keycode)
        for stroke in reversed(strokes):
            xtest.fake_input(self.x, X.KeyRelease, stroke.keycode)
        self.x.sync()

    def close(self) -> None:
        if self.pings is not None:
            self.pings.close()
        self.x.close()
