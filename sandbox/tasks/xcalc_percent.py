"""Model-only: the agent decides how to compute a percentage."""

from sandbox.tasks import EndState, Task


def check(end: EndState) -> bool:
    return end.calculator_display() == "36"


TASK = Task(app="xcalc", geometry="+100+80", max_steps=15, check=check, model_only=True,
            instruction="Use the calculator to work out 15% of 240, and leave the result on its display.")
