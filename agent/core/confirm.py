"""Asking before harm: actions that match the confirmation policy wait for the user's yes.

The policy is a small TOML file (`--confirm-policy FILE`); DEFAULT_POLICY is used otherwise:

    chords = ["alt+f4", "ctrl+q", ...]           # key chords that close windows, log out, open a shell or a VT
    terminal_words = ["rm", "sudo", ...]         # typed into a terminal window (quotes and backslashes removed)
    terminal_windows = ["xterm", "terminal", ...] # window classes that count as terminals
    element_words = ["delete", "remove", ...]    # in what the model says it clicks
"""

import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from agent.core import actions as a
from agent.core.console import plain
from agent.core.errors import AgentError
from agent.core.executors import TERMINAL_WINDOW_CLASSES, is_terminal


class ConfirmationPolicy(BaseModel):
    chords: list[str] = ["alt+f4", "ctrl+q", "ctrl+w", "ctrl+alt+delete", "ctrl+alt+backspace", "win+l",
                         "ctrl+alt+l", "ctrl+shift+q", "ctrl+shift+w", "ctrl+alt+t", "alt+f2", "win+r",
                         *(f"ctrl+alt+f{n}" for n in range(1, 13))]
    """Key chords that close windows, log out, open a terminal or a run dialog, or switch to a text console."""
    terminal_words: list[str] = ["rm", "rmdir", "sudo", "su", "doas", "mkfs", "shutdown", "reboot", "halt", "poweroff",
                                 "dd", "shred", "wipefs", "fdisk", "parted", "-delete", "truncate", "chmod", "chown",
                                 "kill", "killall", "pkill", "crontab"]
    """Words that make typing into a terminal need a yes. The shell's quoting is removed before
    matching, so `"r"m` and `r\\m` count as rm."""
    terminal_windows: list[str] = list(TERMINAL_WINDOW_CLASSES)
    """Window classes (case-insensitive substrings) that count as terminals."""
    element_words: list[str] = ["delete", "remove", "uninstall", "format", "pay", "send", "purchase", "buy"]
    """Words in a click's element description that need a yes."""

    def reason(self, action, window_class: str | None) -> str | None:
        """Why this action needs a yes, or None."""
        if keys := action.pressed_keys:
            chord = set(keys)
            for listed in self.chords:
                if chord == set(a.Key(keys=listed).keys):
                    return f"the key chord {'+'.join(keys)} may close a window, log out or leave the desktop"
        if (typed := action.typed_text) and self._is_terminal(window_class):
            unquoted = re.sub(r"[\\'\"]", "", typed)
            for word in self.terminal_words:
                if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", unquoted):
                    return f"typing {word!r} into a terminal"
        info = action.target_text
        if action.traits.confirm_target and info:
            for word in self.element_words:
                if re.search(rf"\b{re.escape(word)}", info, re.I):
                    return f"clicking {info!r} ({word})"
        return None

    def _is_terminal(self, window_class: str | None) -> bool:
        # an unknown window errs on the side of asking
        return window_class is None or is_terminal(window_class, self.terminal_windows)


def load_policy(path: Path | None) -> ConfirmationPolicy:
    if path is None:
        return ConfirmationPolicy()
    try:
        return ConfirmationPolicy.model_validate(tomllib.loads(Path(path).read_text()))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as error:
        raise AgentError(f"cannot use the confirmation policy {path}: {str(error).splitlines()[0]}") from None


class NeedsConfirmation(Exception):
    """An action needs a yes and there is no one to ask."""


def ask_on_terminal(question: str) -> bool | None:
    """The user's answer on the terminal, or None when there is no terminal to ask on."""
    if not sys.stdin or not sys.stdin.isatty():
        return None
    print(f"{plain(question)} [y/N] ", end="", flush=True)  # input() would put it on stderr
    answer = sys.stdin.readline()
    if not answer:
        return None
    return answer.strip().lower() in ("y", "yes")


class Confirmer:
    """mode 'ask': actions matching the policy need a yes; 'always': every action does; 'never': none."""

    def __init__(self, mode: str = "ask", policy: ConfirmationPolicy | None = None, assume_yes: bool = False,
                 ask: Callable[[str], bool | None] = ask_on_terminal,
                 window_class: Callable[[], str | None] = lambda: None):
        self.mode, self.policy, self.assume_yes = mode, policy or ConfirmationPolicy(), assume_yes
        self.ask, self.window_class = ask, window_class

    def refusal(self, action) -> str | None:
        """None to go ahead; the refusal to tell the model; NeedsConfirmation when no one can answer."""
        if self.mode == "never" or action.ends_run or action.traits.idle:
            return None
        reason = "every action needs a yes (--confirm always)" if self.mode == "always" else \
            self.policy.reason(action, self.window_class() if action.traits.text_field else None)
        if reason is None or self.assume_yes:
            return None
        answer = self.ask(f"The agent wants to {action.call()}: {reason}. Allow it?")
        if answer is None:
            raise NeedsConfirmation(f"{action.call()} needs a yes ({reason}) and no one is there to answer; "
                                    f"run with --yes to allow such actions, or --confirm never")
        return None if answer else f"The user refused {action.call()} ({reason}). Do something else."
