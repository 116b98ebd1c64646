"""Multi-step: every field of the form, then submit."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task

EXPECTED = {"name": "Alan Turing", "email": "alan@example.org", "subscribe": True, "country": "Norway",
            "size": "Medium", "volume": 50}


def check(end: EndState) -> bool:
    return [e["values"] for e in end.events("submit")] == [EXPECTED]


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=25, check=check,
            instruction='type "Alan Turing" into Name, type "alan@example.org" into Email, tick Subscribe, '
                        'select Norway from Country, select Medium from Size, then click Submit')
