"""Multi-step with scrolling and a context menu: upper-case one word, then save."""

from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    text = end.file("upper.txt")
    if text is None:
        return False
    lines = text.splitlines()
    changed = [(n, line) for n, line in enumerate(lines, 1) if line != f"Line {n}: the quick brown fox"]
    return (len(lines) == 200 and len(changed) == 1 and changed[0][0] > 1  # below the first screen: scrolled
            and changed[0][1] == f"Line {changed[0][0]}: the quick BROWN fox")


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=15, check=check,
            instruction='scroll down, double-click brown, right-click brown, click "Upper Case", press ctrl+s, '
                        'type "upper.txt" into "File name", click Save')
