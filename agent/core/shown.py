"""Text from outside the agent (replies, tasks, episode and skill files, request headers), as it may be
shown on a terminal or a page: its control characters, terminal escapes and the invisible characters that
reorder or hide text (U+202E turns what follows it around) are shown as escapes, \\x1b or \\u202e, never
acted on. Newlines and tabs stay. Pages and consoles of gui-agent show text through `shown`."""

import re

HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff"
                    "\ud800-\udfff]")  # and lone surrogates, which no terminal or page can be given


def shown(text) -> str:
    """`text` (str() of anything) with each control, direction and invisible character as its escape."""
    return HIDDEN.sub(escaped, str(text))


def escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text) -> str:
    """`shown`, its newlines too: for an error, or a name inside one."""
    return shown(text).replace("\n", "\\n")
