"""An escape sequence sets the terminal's window title; xdotool reads it."""

from sandbox.tasks import EndState, Task


def check(end: EndState) -> bool:
    return "deploy done" in end.window_titles()


TASK = Task(app="xterm", geometry="100x30+40+40", max_steps=5, check=check,
            instruction=r'''type "printf '\033]2;deploy done\007'", press enter''')
