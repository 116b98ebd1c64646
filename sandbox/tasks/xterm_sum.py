"""Model-only: the agent works out what to run."""

from sandbox.tasks import EndState, Task


def check(end: EndState) -> bool:
    text = end.file("sum.txt")
    return text is not None and text.strip() == "42"


TASK = Task(app="xterm", geometry="100x30+40+40", max_steps=8, check=check, model_only=True,
            instruction="In the terminal, write the sum of 17 and 25 into a file named sum.txt.")
