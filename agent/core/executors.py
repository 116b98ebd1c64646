"""Executors: carry out actions in screen pixels, never outside the monitor they were given."""

import atexit
import os
import re
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.core.computer import ComputerBase, ComputerWrapper
from agent.core.errors import ActionError, DisplayError, Interrupted, StopRequested
from agent.core.geometry import Monitor, Point
from agent.core.settings import settings
from agent.core.stop import TimeUp

if TYPE_CHECKING:  # imported where it is used: it imports python-xlib
    from agent.core.keyboard import Keyboard

TYPE_CHUNK = 50  # keys sent in one go at most: between two, the time limit can cut a long text


def check_inside(monitor: Monitor, *points: Point) -> None:
    for point in points:
        if not monitor.contains(point):
            raise ActionError(f"point {point} is outside the display's monitor {monitor}; refusing to act there")


class RecordingComputer(ComputerBase):
    """Performs nothing and records every call: the test fake and the --dry-run executor."""

    def __init__(self, monitor: Monitor):
        self.monitor = monitor
        self.calls: list[tuple] = []
        self.typed = 0

    def click(self, point: Point, button: str, count: int) -> None:
        check_inside(self.monitor, point)
        self.calls.append(("click", point, button, count))

    def move(self, point: Point) -> None:
        check_inside(self.monitor, point)
        self.calls.append(("move", point))

    def drag(self, start: Point, end: Point) -> None:
        check_inside(self.monitor, start, end)
        self.calls.append(("drag", start, end))

    def scroll(self, point: Point, direction: str, steps: int) -> None:
        check_inside(self.monitor, point)
        self.calls.append(("scroll", point, direction, steps))

    def keypress(self, keys: list[str]) -> None:
        self.calls.append(("keypress", list(keys)))

    def type_text(self, text: str) -> None:
        self.calls.append(("type_text", text))
        self.typed = len(text)

    def wait(self, seconds: float) -> None:
        self.calls.append(("wait", seconds))

    def run_skill(self, name: str, params: dict[str, str]) -> None:
        self.calls.append(("run_skill", name, dict(params)))


def ensure_xauthority() -> None:
    """python-xlib fails on a missing ~/.Xauthority even when the server needs no auth."""
    path = settings().xauthority
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


_pyautogui_display: str | None = None  # the display pyautogui's X connection is to


class PyAutoGUIComputer(ComputerBase):
    """Real input on an X display: the pointer through pyautogui, keys by keysym through XTest
    (agent/core/keyboard.py); text goes through the clipboard only where the keymap has no key for a
    character and no spare keycode to bind to it."""

    def __init__(self, display: str, monitor: Monitor, drag_seconds: float = 0.25):
        global _pyautogui_display
        os.environ["DISPLAY"] = display
        ensure_xauthority()
        try:
            import pyautogui
        except Exception as error:
            raise DisplayError(f"pyautogui cannot use display {display}: {error}") from None
        from Xlib.error import ConnectionClosedError, XError

        self._display_lost = (ConnectionError, ConnectionClosedError, XError)  # the X server went away
        pyautogui.FAILSAFE = True
        pyautogui.PAUSE = 0.0  # the loop waits for the screen to settle instead
        self._gui = pyautogui
        self.display = display
        self.monitor = monitor
        self.drag_seconds = drag_seconds
        self._x: Any = None  # a python-xlib connection (pyautogui's own dependency) for window_class
        self._keyboard: Keyboard | None = None  # the Keyboard that types, on an X connection of its own
        atexit.register(self.close)
        self._selections_before: dict[str, bytes | None] = {}  # what each selection held before we took it
        self.deadline: float | None = None
        self.typed = 0  # characters of the last text typed so far: how far a cut typing got
        if _pyautogui_display is not None:  # a process that acts on one display (or X server) after another
            self.reconnect()
        _pyautogui_display = display

    def reconnect(self) -> None:
        """New X connections to this display for pyautogui (which opens one when it is imported, to
        $DISPLAY) and for the window-class lookups; also after a stop that cut a python-xlib request
        half-way, which leaves that connection waiting for ever."""
        import pyautogui._pyautogui_x11 as pyautogui_x11
        from Xlib.display import Display
        from Xlib.error import DisplayError as XDisplayError

        try:
            pyautogui_x11._display = Display(self.display)
        except (XDisplayError, OSError) as error:
            raise DisplayError(f"cannot open display {self.display}: {error}") from None
        if self._keyboard is not None:  # its connection may be cut mid-request too: unbind on a new one
            self._let_go()
        self._x = None

    def close(self) -> None:
        """Gives the keymap back (the spare keycodes bound for typing) and closes the keyboard's connection:
        at the end of a run, so a process that runs many (eval's worker, the Python API) leaves neither,
        else at exit."""
        atexit.unregister(self.close)
        keyboard, self._keyboard = self._keyboard, None
        if keyboard is not None:
            try:
                keyboard.restore()
                keyboard.close()
            except Exception:  # the display is gone: so is its keymap
                pass

    def set_deadline(self, at: float | None) -> None:
        """A time.monotonic() after which a long text stops between two chunks (the run's --max-seconds)."""
        self.deadline = at

    def _do(self, verb: str, *args, **kwargs) -> None:
        self._act(getattr(self._gui, verb), *args, **kwargs)

    def _act(self, function: Callable, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except self._gui.FailSafeException:
            self._leave_corner()
            raise Interrupted("the pointer reached a screen corner (pyautogui failsafe)") from None
        except self._display_lost as error:
            raise DisplayError(f"lost the connection to display {self.display} ({type(error).__name__}); "
                               "is its X server still running?") from None
        except (KeyboardInterrupt, StopRequested):
            self._let_go()
            raise

    def corners(self) -> set[Point]:
        """Where the pointer stops the agent: the screen's corners (pyautogui's failsafe) and the monitor's
        (the StopWatch's)."""
        m = self.monitor
        right, bottom = m.left + m.width - 1, m.top + m.height - 1
        return {*map(tuple, self._gui.FAILSAFE_POINTS), (m.left, m.top), (right, m.top), (m.left, bottom),
                (right, bottom)}

    def _leave_corner(self) -> None:
        """The pointer one pixel in from the corner that tripped the failsafe: the stop is told once, and
        later actions work again (on a display nobody sees, nobody else can move it out)."""
        try:
            x, y = self._gui.position()
            width, height = self._gui.size()
            self._gui.FAILSAFE = False
            self._gui.moveTo(min(max(x, 1), width - 2), min(max(y, 1), height - 2))
        except Exception:  # the display is gone: the next action says so
            pass
        finally:
            self._gui.FAILSAFE = True

    def _let_go(self) -> None:
        """Releases every key and mouse button held down and unbinds the keycodes bound for typing, on
        an X connection of its own: a stop (a signal) may have come between a press and its release,
        and a connection cut mid-request (pyautogui's, the keyboard's) may never answer again."""
        from Xlib import X, display
        from Xlib.ext import xtest

        keyboard, self._keyboard = self._keyboard, None
        try:
            connection = display.Display(self.display)
            try:
                for index, byte in enumerate(connection.query_keymap()):
                    for bit in range(8):
                        if byte >> bit & 1:
                            xtest.fake_input(connection, X.KeyRelease, index * 8 + bit)
                held = connection.screen().root.query_pointer().mask
                for button, mask in ((1, X.Button1Mask), (2, X.Button2Mask), (3, X.Button3Mask)):
                    if held & mask:
                        xtest.fake_input(connection, X.ButtonRelease, button)
                if keyboard:
                    for keycode in keyboard.bound.values():
                        connection.change_keyboard_mapping(keycode, [(X.NoSymbol,) * len(keyboard.rows[keycode])])
                connection.sync()
            finally:
                connection.close()
        except Exception:  # the display is gone: nothing is held on it any more
            pass
        if keyboard is not None:  # not Display.close(): a connection cut mid-request may never answer
            for connection in (keyboard.x, keyboard.pings):  # pings: the one that hears a calculator's answers
                try:
                    if connection is not None:
                        connection.display.socket.close()
                except OSError:
                    pass

    def click(self, point: Point, button: str, count: int) -> None:
        check_inside(self.monitor, point)
        self._keymap_calm()
        self._do("click", *point, clicks=count, interval=0.05 if count > 1 else 0.0, button=button)

    def move(self, point: Point) -> None:
        check_inside(self.monitor, point)
        self._keymap_calm()
        self._do("moveTo", *point)

    def drag(self, start: Point, end: Point) -> None:
        check_inside(self.monitor, start, end)
        self._keymap_calm()
        self._do("moveTo", *start)
        self._do("mouseDown", button="left")
        try:
            self._do("moveTo", *end, duration=self.drag_seconds)
        except BaseException:
            self._let_go()
            raise
        self._do("mouseUp", button="left")

    def scroll(self, point: Point, direction: str, steps: int) -> None:
        check_inside(self.monitor, point)
        self._keymap_calm()
        self._do("moveTo", *point)
        if direction in ("up", "down"):
            self._do("scroll", steps if direction == "up" else -steps)
        else:
            self._do("hscroll", steps if direction == "right" else -steps)

    def keypress(self, keys: list[str]) -> None:
        self._do("failSafeCheck")
        self._act(self._keys().chord, keys)

    def type_text(self, text: str) -> None:
        self.typed = 0
        self._do("failSafeCheck")
        keyboard = self._keys()
        keysyms = self._act(keyboard.keysyms, text)
        if not keyboard.can_type(keysyms):
            self._paste(text)  # all at once
        else:
            caps_lock_was_on = self._act(keyboard.clear_modifiers)
            try:
                while self.typed < len(keysyms):
                    if self.typed and self.deadline is not None and time.monotonic() >= self.deadline:
                        raise TimeUp("the time limit ran out while typing")  # no count: the text may hold a secret
                    self.typed += self._act(keyboard.type, keysyms[self.typed:self.typed + TYPE_CHUNK])
            finally:
                if self._keyboard is keyboard:  # not after a stop: _let_go has let go of everything
                    self._act(keyboard.finish, caps_lock_was_on)
        self.typed = len(text)

    def _keys(self) -> "Keyboard":
        from Xlib.error import DisplayError as XDisplayError

        from agent.core.keyboard import Keyboard

        if self._keyboard is None:
            try:
                self._keyboard = self._act(Keyboard, self.display)
            except (XDisplayError, OSError) as error:
                raise DisplayError(f"cannot open display {self.display}: {error}") from None
        return self._keyboard

    def _keymap_calm(self) -> None:
        if self._keyboard is not None:
            self._act(self._keyboard.calm)

    def restore_keymap(self) -> None:
        """Unbinds the keycodes bound for typing: at the end (close) or on a stop (_let_go). Not sooner: an app
        reads the keymap only when it handles a key (unbound sooner, xterm got nothing for it), each
        change costs the pointer a wait (Keyboard.calm), and the texts that follow reuse the bindings."""
        if self._keyboard is not None and self._keyboard.bound:
            self._act(self._keyboard.restore)

    def _paste(self, text: str) -> None:
        # No key can be made to type some character here (the keymap has no spare keycode); a selection
        # carries it intact. Terminals read ctrl+v as a control character: there shift+Insert pastes
        # (PRIMARY in xterm).
        terminal = is_terminal(self.window_class())
        for selection in ("clipboard", "primary") if terminal else ("clipboard",):
            self._own_selection(selection, text)
        self.keypress(["shift", "insert"] if terminal else ["ctrl", "v"])

    def _own_selection(self, selection: str, text: str) -> None:
        """Hand the text to xclip, and wait until it serves it: xclip returns before its background
        half has told the X server it owns the selection, and a paste sent sooner is lost."""
        env = {**os.environ, "DISPLAY": self.display}
        if selection not in self._selections_before:
            self._selections_before[selection] = self._selection_text(selection)
            if len(self._selections_before) == 1:
                atexit.register(self.restore_selections)
        try:
            # xclip stays in the background to serve the selection: keep it off our output pipes.
            subprocess.run(["xclip", "-selection", selection], input=text.encode(), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=5)
            deadline = time.monotonic() + 2
            while subprocess.run(["xclip", "-o", "-selection", selection], capture_output=True,
                                 env=env, timeout=5).stdout != text.encode():
                if time.monotonic() > deadline:
                    raise ActionError(f"xclip took the text but the {selection} selection did not hold it after 2 s")
                time.sleep(0.01)
        except FileNotFoundError:
            raise ActionError("typing non-ASCII text needs xclip: apt-get install xclip") from None
        except (subprocess.SubprocessError, OSError) as error:
            raise ActionError(f"xclip could not set the {selection} selection: {error}") from None

    def _selection_text(self, selection: str) -> bytes | None:
        try:
            out = subprocess.run(["xclip", "-o", "-selection", selection], capture_output=True, timeout=5,
                                 env={**os.environ, "DISPLAY": self.display})
        except (subprocess.SubprocessError, OSError):
            return None
        return out.stdout if out.returncode == 0 else None

    def restore_selections(self) -> None:
        """Gives back the selections that pasting took: their earlier text, else no owner at all, so
        no xclip is left serving what was typed (a secret, say) after the run. Runs at exit."""
        from Xlib import X, display

        for selection, before in self._selections_before.items():
            try:
                if before is not None:
                    subprocess.run(["xclip", "-selection", selection], input=before, timeout=5, env={
                        **os.environ, "DISPLAY": self.display}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    continue
                connection = display.Display(self.display)
                atom = connection.intern_atom(selection.upper())
                # ours until this connection closes, when the owner reverts to None; xclip, told it
                # lost the selection, exits. sync: the server has done it before the close.
                connection.screen().root.set_selection_owner(atom, X.CurrentTime)
                connection.sync()
                connection.close()
            except Exception:  # the display is gone: so is every selection on it
                pass
        self._selections_before.clear()

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def window_class(self) -> str | None:
        """The class of the window with the keyboard focus (XTerm, Tk, ...), or None when it cannot be told."""
        from Xlib import X, display

        try:
            if self._x is None:
                self._x = display.Display(self.display)
            window = self._x.get_input_focus().focus
            while hasattr(window, "get_wm_class"):  # focus can also be the numbers None or PointerRoot
                if names := window.get_wm_class():
                    return names[1]
                parent = window.query_tree().parent
                window = None if parent.id in (X.NONE, self._x.screen().root.id) else parent
        except Exception:  # python-xlib's connection and protocol errors: the class stays unknown
            self._x = None
        return None


TERMINAL_WINDOW_CLASSES = ("xterm", "terminal", "konsole", "kitty", "alacritty", "urxvt", "tilix", "st-256color")


def is_terminal(window_class: str | None, names=TERMINAL_WINDOW_CLASSES) -> bool:
    """Whether a window class is a terminal's: one of `names` is a case-insensitive part of it."""
    return window_class is not None and any(name.lower() in window_class.lower() for name in names)


class SecretTyping(ComputerWrapper):
    """The model only ever says {{NAME}}; this types the real value. Nothing else sees it, and
    `on_typed` (the screenshots' SecretMask) hears of every value typed."""

    def __init__(self, computer: ComputerBase, secrets: dict[str, str],
                 on_typed: Callable[[str], None] = lambda value: None):
        super().__init__(computer)
        self.secrets, self.on_typed = secrets, on_typed

    def type_text(self, text: str) -> None:
        names = re.findall(r"\{\{(\w+)\}\}", text)
        for name in names:
            if name not in self.secrets:
                raise ActionError(f"no secret named {name}; pass --secret {name}=VALUE or set GUI_AGENT_SECRET_{name}")
            text = text.replace("{{" + name + "}}", self.secrets[name])
        try:
            self.computer.type_text(text)
        finally:  # typed in part is shown in part
            for name in names:
                self.on_typed(self.secrets[name])
