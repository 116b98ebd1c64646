"""The calculator's buttons clicked one by one."""

from sandbox.tasks import EndState, Task


def check(end: EndState) -> bool:
    return end.calculator_display() == "17"


TASK = Task(app="xcalc", geometry="+100+80", max_steps=8, check=check,
            instruction="click 9, click +, click 8, click =")
