"""Grounding accuracy of the embedded planner on the demo apps: for every labelled widget, the
point it chooses lands inside that widget, by the geometry Tk itself reports."""

import os
import subprocess
from pathlib import Path

import pytest

from agent.core.errors import GroundingError
from agent.core.ocr import OCR
from agent.core.screen import Screen
from agent.planners.embedded import LocalPlanner

FORM_TARGETS = [  # instruction, the widget its first action must hit
    ('type "x" into Name', "name_entry"), ('type "x" into Email', "email_entry"), ("tick Subscribe", "subscribe"),
    ("click Submit", "submit"), ("click Clear", "clear"), ("select Large from Size", "size_combo"),
    ("select Uruguay from Country", "country_list"),
    *[(f"click {country}", f"country:{country}")
      for country in ("Argentina", "Australia", "Austria", "Belgium", "Brazil", "Canada")],
]
EDITOR_TARGETS = [("click File", "menubar:File"), ("click Edit", "menubar:Edit")]
DIALOG_TARGETS = [('type "x" into "File name"', "dialog_filename"), ("click Save", "dialog_save"),
                  ("click Cancel", "dialog_cancel")]


def hits(session, app, targets, ocr, keep: Path):
    os.environ["XAUTHORITY"] = session.env["XAUTHORITY"]
    screen = Screen(session.display)
    frame, _ = screen.settle(screen.capture())  # the app has drawn what its record announces
    keep.write_bytes(frame.png())  # to look at when a target is missed
    widgets = app.record()["widgets"]
    results = []
    for instruction, widget in targets:
        try:
            action = LocalPlanner(instruction, ocr).decide("", frame).action
        except GroundingError as error:
            results.append((instruction, False, str(error), keep))
            continue
        x, y = frame.geometry.model_to_screen(next(iter(action.points().values())))
        rx, ry, rw, rh = widgets[widget]
        results.append((instruction, rx <= x < rx + rw and ry <= y < ry + rh, (x, y), widgets[widget]))
    return results


@pytest.mark.parametrize("geometry", ["700x560+40+30", "640x600+600+100"])
def test_every_labelled_widget_is_hit(x_session, geometry, tmp_path):
    ocr = OCR()
    form = x_session.launch("form", geometry=geometry)
    form.wait_ready()
    results = hits(x_session, form, FORM_TARGETS, ocr, tmp_path / "form.png")
    editor = x_session.launch("editor", geometry="560x300+700+420" if geometry.endswith("+30") else "560x300+20+20")
    editor.wait_ready()
    subprocess.run(["xdotool", "key", "ctrl+s"], env=x_session.env, check=True)  # opens the Save As dialog
    editor.wait_until(lambda r: "dialog_filename" in r["widgets"])
    results += hits(x_session, editor, EDITOR_TARGETS + DIALOG_TARGETS, ocr, tmp_path / "editor.png")
    hit = sum(ok for _, ok, _, _ in results)
    print(f"\ngrounding hit rate at {geometry}: {hit}/{len(results)}")
    assert [r for r in results if not r[1]] == []
