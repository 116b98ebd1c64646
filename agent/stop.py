"""The global stop chord: pressing it anywhere on the display ends the run at once.

A pynput listener (X RECORD) watches the keyboard; on the chord it signals the main thread with
SIGUSR1, whose handler raises Interrupted wherever the agent is, also between two keystrokes
of a long text it is typing.
"""

import os
import signal

from .actions import Key
from .errors import DisplayError, Interrupted

DEFAULT_STOP_KEYS = "ctrl+alt+shift+q"


def _raise_interrupted(signum, frame):
    raise Interrupted("the stop keys were pressed")


class StopChord:
    def __init__(self, display: str, keys: str = DEFAULT_STOP_KEYS):
        self.display, self.keys = display, set(Key(keys=keys).keys)
        self.held: set[str] = set()
        self._listener = None

    def start(self) -> "StopChord":
        os.environ["DISPLAY"] = self.display  # pynput's X connection reads it
        try:
            from pynput import keyboard
        except Exception as error:
            raise DisplayError(f"cannot watch for the stop keys on {self.display}: {error}") from None
        self._keyboard = keyboard
        signal.signal(signal.SIGUSR1, _raise_interrupted)
        self._listener = keyboard.Listener(on_press=self._press, on_release=self._release)
        self._listener.start()
        self._listener.wait()
        return self

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
            os.kill(os.getpid(), signal.SIGUSR1)

    def _release(self, key) -> None:
        self.held.discard(self._name(key))

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)
