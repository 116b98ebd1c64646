"""A real terminal: a shell command writes a file."""

from sandbox.tasks import EndState, Task


def check(end: EndState) -> bool:
    return end.file("greeting.txt") == "hello\n"


TASK = Task(app="xterm", geometry="100x30+40+40", max_steps=5, check=check,
            instruction='type "echo hello > greeting.txt", press enter')
