"""A real X program driven from the keyboard; the result is read from its display's selection."""

from sandbox.tasks import EndState, Task


def check(end: EndState) -> bool:
    return end.calculator_display() == "42"


TASK = Task(app="xcalc", geometry="+100+80", max_steps=4, check=check,
            instruction='type "12+30="')
