"""A context menu: right-click the name field and upper-case its content."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return end.state.get("name") == "ADA" and {"event": "menu_item", "label": "Upper case"} in end.events("menu_item")


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=10, check=check,
            instruction='type "ada" into Name, right-click ada, click "Upper case"')
