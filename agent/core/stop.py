"""Stopping a run at once: the stop chord pressed anywhere on the display, or the pointer moved
into a corner of the monitor (pyautogui's failsafe gesture, watched here all the time rather
than only when pyautogui acts).

pynput listeners (X RECORD) watch the keyboard and the pointer; on a stop they signal the main
thread with SIGUSR1, whose handler raises StopRequested wherever the agent is, also between two
keystrokes of a long text it is typing.
"""

import os
import signal
import threading
from collections.abc import Iterable
from typing import Any

from agent.core.actions import Key
from agent.core.defaults import DEFAULT_STOP_KEYS
from agent.core.errors import DisplayError, StopRequested


class TimeUp(StopRequested):
    """The run's time limit ran out in the middle of an action (between two chunks of a long text).
    A StopRequested, so no `except Exception` on the way turns it into another error."""


class StopWatch:
    def __init__(self, display: str, keys: str = DEFAULT_STOP_KEYS, corners: Iterable[tuple[int, int]] = ()):
        self.display, self.keys, self.corners = display, set(Key(keys=keys).keys), set(corners)
        self.held: set[str] = set()
        self.reason = ""
        self._listeners: list[Any] = []  # pynput's listeners (untyped)
        self._raised = False

    def start(self) -> "StopWatch":
        os.environ["DISPLAY"] = self.display  # pynput's X connection reads it
        try:
            from pynput import keyboard
        except Exception as error:
            raise DisplayError(f"cannot watch for the stop keys on {self.display}: {error}") from None
        from pynput import mouse
        from Xlib.error import ConnectionClosedError

        self._keyboard = keyboard
        signal.signal(signal.SIGUSR1, self._raise_interrupted)
        self._display_lost = (ConnectionClosedError, ConnectionError)
        self._excepthook, threading.excepthook = threading.excepthook, self._quiet_if_display_lost
        self._listeners = [keyboard.Listener(on_press=self._press, on_release=self._release),
                           mouse.Listener(on_move=self._move)]
        for listener in self._listeners:
            listener.start()
            listener.wait()
        return self

    def _quiet_if_display_lost(self, args) -> None:
        """A listener whose X server went away ends without a traceback: the run's own next
        capture or action says the display is lost, on one line."""
        if args.thread not in self._listeners or not isinstance(args.exc_value, self._display_lost):
            self._excepthook(args)

    def _raise_interrupted(self, signum, frame):
        if not self._raised:  # once: pyautogui's own failsafe may have ended the run a moment before
            self._raised = True
            raise StopRequested(self.reason)

    def _stop_run(self, reason: str) -> None:
        if self.reason:  # once: a corner reports several moves, and a second stop would cut the end line short
            return
        self.reason = reason
        os.kill(os.getpid(), signal.SIGUSR1)

    def _move(self, x: int, y: int) -> None:
        if (x, y) in self.corners:
            self._stop_run("the pointer reached a screen corner (failsafe)")

    def _name(self, key) -> str | None:
        names = {"ctrl_l": "ctrl", "ctrl_r": "ctrl", "alt_l": "alt", "alt_r": "alt", "alt_gr": "alt",
                 "shift_r": "shift", "cmd": "win", "cmd_l": "win", "cmd_r": "win"}
        if isinstance(key, self._keyboard.Key):
            return names.get(key.name, key.name)
        char = getattr(key, "char", None)
        if char:
            return char.lower()
        vk = getattr(key, "vk", None)  # with ctrl held, X reports a keysym rather than a character
        return chr(vk).lower() if vk and 32 <= vk < 127 else None

    def _press(self, key) -> None:
        name = self._name(key)
        if name:
            self.held.add(name)
        if self.keys <= self.held:
            self.held.clear()
            self._stop_run("the stop keys were pressed")

    def _release(self, key) -> None:
        self.held.discard(self._name(key))

    def stop(self) -> None:
        for listener in self._listeners:
            try:
                listener.stop()
            except (*self._display_lost, AttributeError):  # its X server is gone, and the listener with it
                pass  # (python-xlib drops a closed connection's request queue: AttributeError on the next request)
        if self._listeners:
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a stop still on its way finds the run over
            # a listener ends at its display's next event (no waiting for it here); one whose display
            # died raises as it ends, so the quiet hook stays until every listener has ended
            if not any(listener.is_alive() for listener in self._listeners):
                threading.excepthook = self._excepthook
