"""Grounding accuracy of the embedded planner on the demo apps: for every labelled widget, the
point it chooses lands inside that widget, by the geometry Tk itself reports."""

import os
import subprocess
from pathlib import Path

import pytest

from agent.core.errors import GroundingError
from agent.core.ocr import OCR, TextBox
from agent.core.ocr import centre_in as ocr_centre_in
from agent.core.screen import Screen
from agent.planners import grounding as g
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


class RecordedLines:
    """Text lines known up front, handed out as `agent.core.ocr.Lines` does: detected a band of
    ROWS rows (or a rectangle) at a time, each line read when asked for; notes what it did."""

    ROWS = 100

    def __init__(self, texts: list[TextBox], height: int = 1300):
        self._texts = {t.box: t for t in texts}
        self.height = height
        self.bands: set[int] = set()
        self.areas: list = []
        self.read_boxes: set = set()

    def _band(self, box) -> int:
        return int((box[1] + box[3]) / 2 // self.ROWS)

    @property
    def boxes(self) -> list:
        return sorted((box for box in self._texts if self._band(box) in self.bands
                       or any(ocr_centre_in(box, area) for area in self.areas)), key=lambda b: (b[1], b[0]))

    def bands_left(self, within=None) -> list:
        bands = [(0, top, 2000, top + self.ROWS) for top in range(0, self.height, self.ROWS)]
        return [band for band in bands if band[1] // self.ROWS not in self.bands
                and (within is None or g.overlaps(band, within))]

    def detect_band(self, band) -> None:
        self.bands.add(band[1] // self.ROWS)

    def detect_rectangle(self, area) -> None:
        self.areas.append(area)

    def detect_all(self, within=None) -> None:
        for band in self.bands_left(within):
            self.detect_band(band)

    def is_read(self, box) -> bool:
        return box in self.read_boxes

    def read(self, boxes=None) -> list[TextBox]:
        if boxes is None:
            self.detect_all()
        boxes = set(self.boxes if boxes is None else boxes)
        self.read_boxes |= boxes
        return [self._texts[box] for box in self.boxes if box in boxes]


def editor_and_form(extra=()) -> list[TextBox]:
    """A form's short labels, top left, beside sixty lines of an editor (≈ 11 times as wide as tall)."""
    labels = ["Name", "Email", "Country", "Size", "Volume", "Submit", "Clear", "Argentina", "Brazil"]
    texts = [TextBox(label, 1.0, (40, 40 + 30 * i, 40 + 9 * len(label) + 18, 58 + 30 * i))
             for i, label in enumerate(labels)]
    texts += [TextBox(f"Line {n}: the quick brown fox", 1.0, (600, 40 + 20 * n, 830, 60 + 20 * n)) for n in range(60)]
    return texts + list(extra)


def best(matches):
    return matches[0].text.box if matches else None


LOW_NAME = TextBox("Name", 1.0, (40, 1100, 94, 1118))  # a second "Name", far below the first
BUTTON = (30, 1094, 110, 1124)  # a button round it


@pytest.mark.parametrize("query, near, extra, rectangles, bands", [
    ("Name", None, [], [], {0}),
    ("Submit", (60, 200), [], [], {1, 2}),
    ("Name", None, [LOW_NAME], [], {0}),  # the first in reading order
    ("Name", (40, 1080), [LOW_NAME], [], {10, 11}),  # the nearest
    ("Name", None, [LOW_NAME], [BUTTON], set()),  # the one in a button, wherever it is
    ("NAME:", None, [TextBox("Name", 1.0, (40, 1100, 90, 1122))], [], {0}),
    ("brown", None, [], [], set(range(13))),  # inside lines only: every line may hold it
    ("Nmae", None, [], [], set(range(13))),  # misspelt: every line is compared
    ("Frobnicate", None, [], [], set(range(13))),
])
def test_finding_in_lines_detects_and_reads_what_could_rank_first_and_finds_what_reading_all_finds(
        query, near, extra, rectangles, bands):
    texts = editor_and_form(extra)
    lines = RecordedLines(texts)
    found = g.find_in_lines(lines, query, near=near, rectangles=rectangles)
    everything = g.find_text(texts, query, near=near)
    in_button = [m for m in everything if round(m.score, 2) == round(everything[0].score, 2)
                 and g.button_around(rectangles, m.box)] if everything else []
    assert best(found) == (in_button[0].text.box if in_button else best(everything))
    assert lines.bands == bands
    if bands != set(range(13)):
        assert not any(box[0] == 600 for box in lines.read_boxes)  # no editor line was read


def test_finding_within_a_box_detects_and_reads_only_there():
    lines = RecordedLines(editor_and_form())
    assert best(g.find_in_lines(lines, "brown", within=(0, 0, 400, 250))) is None
    assert lines.bands == {0, 1, 2} and all(box[0] < 400 for box in lines.read_boxes)


@pytest.mark.parametrize("rectangle, holds", [
    ((30, 1094, 110, 1124), True),  # a button
    ((100, 40, 700, 61), False),  # a long text field: too long for a short label to be its button
    ((0, 0, 640, 540), False),  # a window: its text would be taller than detection reads whole
    ((20, 90, 430, 180), True),  # a list box: a label 30-64 px tall could fill it
])
def test_which_rectangles_could_be_a_button_round_a_short_label(rectangle, holds):
    assert g.could_be_button(rectangle, *g.shapes_of("Name")) == holds


@pytest.mark.parametrize("line, query, part", [("FileEdit", "File", "File"), ("FileEdit", "Edit", "Edit"),
                                               ("File   Edit", "Edit", "Edit"), ("iPhone case", "iPhone", "iPhone")])
def test_words_run_together_by_ocr_are_found_apart_where_a_small_letter_meets_a_capital(line, query, part):
    text = TextBox(line, 1.0, (100, 10, 100 + 10 * len(line), 30))
    match = g.match_text(query, text)
    assert match.exact and match.part == part
    start = line.index(part) * 10 + 100
    assert match.box[0] == start and match.box[2] == start + 10 * len(part)


def test_a_word_inside_another_is_not_taken_for_it():
    assert not g.match_text("Edit", TextBox("Credit", 1.0, (0, 0, 60, 20))).exact


def test_a_text_ocr_was_unsure_of_matches_below_one_it_was_sure_of():
    unsure = TextBox("+", 0.51, (294, 349, 310, 369))  # a calculator's ÷, nearer the last click
    sure = TextBox("+", 0.97, (294, 437, 308, 455))
    near = (257, 386)
    assert best(g.find_text([unsure, sure], "+", near=near)) == sure.box
    assert best(g.find_in_lines(RecordedLines([unsure, sure], height=500), "+", near=near)) == sure.box
    assert best(g.find_text([unsure], "+", near=near)) == unsure.box  # still found when it is all there is
