"""A double-click on a list row chooses the country at once."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return [e["country"] for e in end.events("country_chosen")] == ["Brazil"]


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=5, check=check,
            instruction="double-click Brazil")
