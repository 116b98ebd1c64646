"""ctrl+c stops a running command; the shell takes the next one."""

from sandbox.tasks import EndState, Task


def check(end: EndState) -> bool:
    return end.file("ok.txt") == "stopped\n"


TASK = Task(app="xterm", geometry="100x30+40+40", max_steps=8, check=check,
            instruction='type "sleep 60", press enter, press ctrl+c, type "echo stopped > ok.txt", press enter')
