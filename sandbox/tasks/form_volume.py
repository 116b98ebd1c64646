"""Model-only: setting a slider to a value needs a drag or arrow keys chosen by looking."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    submitted = end.submitted()
    return submitted is not None and submitted["volume"] == 80


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=15, check=check, model_only=True,
            instruction="Set the volume to exactly 80, then submit the form.")
