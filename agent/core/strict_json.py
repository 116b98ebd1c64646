"""JSON from elsewhere (episodes, skills, a model's tool-call arguments) with numbers as RFC 8259 has
them: NaN, Infinity and -Infinity, which Python's json reads, are not numbers, nor is a float too large
to be finite (1e400) or an integer of more than MAX_DIGITS digits."""

import json
import math
from dataclasses import dataclass

MAX_DIGITS = 100
MAX_NUMBER = 10**9  # either way, for a number in a file or an option: no count, size, coordinate or time comes near


@dataclass(frozen=True, slots=True)
class BadNumber:
    """Where a number is not one gui-agent reads, as the text says it: NaN, 1e400, an integer of 5000 digits."""

    text: str

    def __str__(self) -> str:
        return self.text


class NumberError(json.JSONDecodeError):
    """A JSON text holding a BadNumber."""

    def __init__(self, number: BadNumber):
        ValueError.__init__(self, f"{number} is not a number gui-agent reads")
        self.msg, self.doc, self.pos, self.lineno, self.colno = str(self), "", 0, 1, 1


def finite(text: str) -> float | BadNumber:
    value = float(text)
    return value if math.isfinite(value) else BadNumber(text)


def integer(text: str) -> int | BadNumber:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_DIGITS else BadNumber(f"an integer of {digits} digits")


def marked(text: str | bytes):
    """The value of `text`, each bad number in it a BadNumber, for a reader that says which field holds it."""
    return json.loads(text, parse_constant=BadNumber, parse_float=finite, parse_int=integer)


def loads(text: str | bytes):
    """The value of `text`; NumberError (a json.JSONDecodeError) when it holds a bad number."""
    def refused(value):
        if isinstance(value, BadNumber):
            raise NumberError(value)
        return value
    return json.loads(text, parse_constant=lambda name: refused(BadNumber(name)),
                      parse_float=lambda text: refused(finite(text)), parse_int=lambda text: refused(integer(text)))
