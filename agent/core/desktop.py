"""A desktop: one monitor of one X display as a front door acts on it, composed here only. Its screen
has the typed secrets covered (SecretMask), its computer types {{NAME}} as the secret's value and
has every capability (agent/core/computer.py); it makes the confirmer that asks before a risky
action, and watches the stop keys. Runs, re-grounded replays, skills and the MCP server all open
one; a new front door that acts call by call needs nothing else:

    desktop = open_desktop(":1", secrets={"PIN": "1234"})
    confirmer = desktop.confirmer("ask", ask=lambda question: False)
    with desktop.stop_keys_watched(DEFAULT_STOP_KEYS, print):
        frame = desktop.screen.capture()
        if not confirmer.refusal(action):
            action.perform(desktop.computer, frame.geometry.model_to_screen)
    desktop.close()
"""

import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agent.core.computer import Computer, ComputerBase, VerbsOnly
from agent.core.confirm import Confirmer, ask_on_terminal, load_policy
from agent.core.errors import AgentError, StopRequested
from agent.core.executors import PyAutoGUIComputer, RecordingComputer, SecretTyping
from agent.core.geometry import Monitor
from agent.core.mask import MaskedScreen, SecretMask
from agent.core.screen import Frame, Screen
from agent.core.stop import StopWatch

Note = Callable[[str], None]


@dataclass
class Desktop:
    """What a front door acts on and sees; made by `open_desktop`."""

    screen: Screen | MaskedScreen  # what planners and episodes see: typed secrets covered
    computer: ComputerBase  # what acts: {{NAME}} typed as its secret
    raw_computer: ComputerBase  # the same without the secret typing added here: a run inside types its own
    mask: SecretMask | None  # covers the secrets typed, if any were given
    first: Frame  # the screen when the desktop was opened
    made: list = field(default_factory=list)  # the screen and computer opened here, closed with the desktop

    @property
    def display(self) -> str | None:
        return self.screen.display

    @property
    def monitor(self) -> Monitor:
        return self.first.monitor

    def confirmer(self, mode: str = "ask", policy: Path | None = None, yes: bool = False,
                  ask: Callable[[str], bool | None] = ask_on_terminal) -> Confirmer:
        """The confirmation `mode` (ask, always, never) with the policy in the file `policy` (the default
        one without), told which window has the focus; `ask` puts its questions, `yes` answers them all."""
        return Confirmer(mode, load_policy(policy), yes, ask=ask, window_class=self.computer.window_class)

    @contextmanager
    def stop_keys_watched(self, keys: str, on_note: Note):
        """The stop chord and the screen corners stop what runs inside at once, and so does SIGTERM unless
        the caller handles it already (the MCP server does); all only in the main thread, where signals
        are handled."""
        in_main_thread = threading.current_thread() is threading.main_thread()
        stopper = self.watch_stop_keys(keys, on_note) if in_main_thread else None
        takes_sigterm = in_main_thread and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
        if takes_sigterm:
            signal.signal(signal.SIGTERM, stop_on_sigterm)
        try:
            yield
        finally:
            if stopper:
                stopper.stop()
            if takes_sigterm:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def watch_stop_keys(self, keys: str, on_note: Note) -> StopWatch | None:
        """The stop chord (none for "none") and the monitor's corners watched, until the StopWatch is stopped."""
        if keys.lower() == "none" or self.display is None:
            return None
        m = self.monitor
        right, bottom = m.left + m.width - 1, m.top + m.height - 1
        corners = [(m.left, m.top), (right, m.top), (m.left, bottom), (right, bottom)]
        try:
            stopper = StopWatch(self.display, keys, corners).start()
        except (AgentError, ValueError) as error:
            on_note(f"warning: no stop keys: {error}")
            return None
        on_note(f"press {keys} or move the pointer into a screen corner to stop the run at once")
        return stopper

    def close(self) -> None:
        """Closes what the desktop opened (not a screen or computer it was given)."""
        close_all(self.made)
        self.made = []


def open_desktop(display: str | None = None, monitor: int = 1, *, secrets: dict[str, str] | None = None,
                 dry_run: bool = False, screen=None, computer: Computer | None = None,
                 mask: SecretMask | None = None) -> Desktop:
    """A desktop on `display`'s monitor number `monitor`, or on the `screen` and `computer` given (a
    caller's own, or those of the run a skill runs in). With `secrets` (even none), the computer types
    {{NAME}} as its secret and refuses a name not given, and the screen covers what it typed; without,
    a `mask` given covers what the computer given types. `dry_run`: a computer that only records."""
    raw_screen = screen if screen is not None else Screen(display, monitor)
    made: list = [] if screen is not None else [raw_screen]
    try:
        first = raw_screen.capture()
        if computer is None:
            computer = RecordingComputer(first.monitor) if dry_run else \
                PyAutoGUIComputer(raw_screen.display, first.monitor)
            made.append(computer)
    except BaseException:
        close_all(made)
        raise
    raw = computer if isinstance(computer, ComputerBase) else VerbsOnly(computer)
    typing = raw
    if secrets is not None:
        mask = mask or (SecretMask() if secrets else None)
        typing = SecretTyping(raw, secrets, on_typed=mask.secret_typed if mask else lambda value: None)
    shown = MaskedScreen(raw_screen, mask) if mask else raw_screen
    return Desktop(shown, typing, raw, mask, first, made)


def close_all(made: list) -> None:
    for thing in made:
        try:
            thing.close()
        except Exception:  # mss raises closing the connection of a display that went away: nothing is left
            pass


def stop_on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second one must not cut the episode's end short
    raise StopRequested("terminated by SIGTERM")
