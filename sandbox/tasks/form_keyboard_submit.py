"""A key chord: the form submits on ctrl+enter, with no click on Submit."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    submits = end.events("submit")
    return (len(submits) == 1 and submits[0].get("via") == "ctrl+Return"
            and submits[0]["values"]["name"] == "Grace Hopper")


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=8, check=check,
            instruction='type "Grace Hopper" into Name, press ctrl+enter')
