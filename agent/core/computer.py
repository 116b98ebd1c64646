"""What a computer is. `Computer`: the verbs, in screen pixels, all a caller's own computer needs.
`ComputerBase`: the verbs and the capabilities the loop, the confirmer, the skill action and the MCP
server also use, each with the default of a computer that lacks it; every computer here is one, and
the desktop (agent/core/desktop.py) makes a caller's own computer one with `VerbsOnly`. A wrapper
(`ComputerWrapper`) forwards each verb and capability by name, so nobody asks a computer what it has."""

from abc import ABC, abstractmethod
from typing import Protocol

from agent.core.errors import ActionError
from agent.core.geometry import Point


class Computer(Protocol):
    """What an executor does, in screen pixels; one method per verb."""

    def click(self, point: Point, button: str, count: int) -> None: ...
    def move(self, point: Point) -> None: ...
    def drag(self, start: Point, end: Point) -> None: ...
    def scroll(self, point: Point, direction: str, steps: int) -> None: ...
    def keypress(self, keys: list[str]) -> None: ...
    def type_text(self, text: str) -> None: ...
    def wait(self, seconds: float) -> None: ...


class ComputerBase(ABC):
    """A Computer with the capabilities, each defaulting to what a computer without it does."""

    typed: int | None = None  # characters of the last text typed so far (how far a cut typing got); None: unknown

    @abstractmethod
    def click(self, point: Point, button: str, count: int) -> None: ...
    @abstractmethod
    def move(self, point: Point) -> None: ...
    @abstractmethod
    def drag(self, start: Point, end: Point) -> None: ...
    @abstractmethod
    def scroll(self, point: Point, direction: str, steps: int) -> None: ...
    @abstractmethod
    def keypress(self, keys: list[str]) -> None: ...
    @abstractmethod
    def type_text(self, text: str) -> None: ...
    @abstractmethod
    def wait(self, seconds: float) -> None: ...

    def set_deadline(self, at: float | None) -> None:
        """A time.monotonic() after which a long text stops between two chunks (the run's --max-seconds)."""

    def window_class(self) -> str | None:
        """The class of the window with the keyboard focus (XTerm, Tk, ...); None when it cannot be told."""
        return None

    def run_skill(self, name: str, params: dict[str, str]) -> None:
        """Runs the skill NAME (the `skill` action), on the same display through this computer."""
        raise ActionError("no skills are offered in this run (start it with --skills)")

    def corners(self) -> set[Point]:
        """The screen points where the pointer stops the agent (a point there is refused)."""
        return set()

    def reconnect(self) -> None:
        """New connections to the display after a stop that may have cut a request half-way."""

    def close(self) -> None:
        """Gives back what acting took (bound keycodes, connections): at the end of a run."""


class VerbsOnly(ComputerBase):
    """A caller's own Computer, which has only the verbs, with the default capabilities."""

    def __init__(self, computer: Computer):
        self.computer = computer

    def click(self, point: Point, button: str, count: int) -> None:
        self.computer.click(point, button, count)

    def move(self, point: Point) -> None:
        self.computer.move(point)

    def drag(self, start: Point, end: Point) -> None:
        self.computer.drag(start, end)

    def scroll(self, point: Point, direction: str, steps: int) -> None:
        self.computer.scroll(point, direction, steps)

    def keypress(self, keys: list[str]) -> None:
        self.computer.keypress(keys)

    def type_text(self, text: str) -> None:
        self.computer.type_text(text)

    def wait(self, seconds: float) -> None:
        self.computer.wait(seconds)


class ComputerWrapper(VerbsOnly):
    """A computer around another that forwards every verb and capability to it; a subclass changes
    one (SecretTyping its type_text, SkillRunner its run_skill)."""

    computer: ComputerBase

    def __init__(self, computer: ComputerBase):
        super().__init__(computer)

    @property
    def typed(self) -> int | None:
        return self.computer.typed

    @typed.setter
    def typed(self, value: int | None) -> None:
        self.computer.typed = value

    def set_deadline(self, at: float | None) -> None:
        self.computer.set_deadline(at)

    def window_class(self) -> str | None:
        return self.computer.window_class()

    def run_skill(self, name: str, params: dict[str, str]) -> None:
        self.computer.run_skill(name, params)

    def corners(self) -> set[Point]:
        return self.computer.corners()

    def reconnect(self) -> None:
        self.computer.reconnect()

    def close(self) -> None:
        self.computer.close()
