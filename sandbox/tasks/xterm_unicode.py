"""Non-ASCII typed into a terminal."""

from sandbox.tasks import EndState, Task


def check(end: EndState) -> bool:
    return end.file("menu.txt") == "café\n"


TASK = Task(app="xterm", geometry="100x30+40+40", max_steps=5, check=check,
            instruction='type "echo café > menu.txt", press enter')
