"""The embedded default planner: carries out simple instructions, grounding targets with OCR and
OpenCV, with no model and no network. It speaks the same action calls as GLM-4.5V, so its
episodes look and replay the same."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.core import actions as a
from agent.core.defaults import TARGET_TIMEOUT, PlannerKind
from agent.core.errors import GroundingError
from agent.core.ocr import OCR, Box, Lines, TextBox, centre_in
from agent.core.planner import Decision, Reply
from agent.core.screen import Frame
from agent.planners import grounding as g
from agent.planners import instructions as ins

LOOK_AGAIN = 0.5  # seconds before looking again at an effect that did not show (an app may draw late)
WAIT_STEP = 1.0  # seconds between looks at a button that looks disabled
LIST_SCROLLS = 12
AMBIGUOUS = 0.05  # a misspelt target scoring within this of two different texts names neither
AFTER_TEXT = 6  # pixels right of a field's text where a click puts the text cursor at its end
MOVED = 200  # a scroll moved something when this many pixels of its area changed (a blinking caret changes ~30)


@dataclass
class Scene:
    """What is on one frame: its text lines (each recognised when first needed) and bordered rectangles."""

    frame: Frame
    lines: Lines
    full_read: bool = False
    _rectangles: list[Box] | None = None

    @property
    def texts(self) -> list[TextBox]:
        """Every text line, read now if it was not before."""
        return self.lines.read()

    @property
    def rectangles(self) -> list[Box]:
        if self._rectangles is None:
            self._rectangles = g.find_rectangles(self.frame.pixels)
        return self._rectangles


def box_centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def around(point: tuple[float, float], screen: Box, half_width: int = 150, half_height: int = 100) -> Box:
    x, y = int(point[0]), int(point[1])
    return (max(0, x - half_width), max(0, y - half_height),
            min(screen[2], x + half_width), min(screen[3], y + half_height))


Check = Callable[[], str | None]  # what the screen shows instead of a clause's effect; None once it shows


def safe_to_redo(clause: ins.Clause) -> bool:
    """Keys and text typed at the focus are never done twice: what they did is not known."""
    return not isinstance(clause, ins.Press) and not (isinstance(clause, ins.TypeInto) and not clause.field)


def reading_order(texts: list[TextBox]) -> list[TextBox]:
    """Texts row by row, left to right: the words of one line may be detected a pixel higher or lower."""
    rows: list[list[TextBox]] = []
    for text in sorted(texts, key=lambda t: t.centre[1]):
        if rows and text.centre[1] - rows[-1][0].centre[1] <= (rows[-1][0].box[3] - rows[-1][0].box[1]) / 2:
            rows[-1].append(text)
        else:
            rows.append([text])
    return [text for row in rows for text in sorted(row, key=lambda t: t.box[0])]


def moved(before: np.ndarray, after: np.ndarray) -> bool:
    return before.shape == after.shape and int(np.any(before != after, axis=2).sum()) >= MOVED


class LocalPlanner:
    name: str = PlannerKind.LOCAL

    def __init__(self, instruction: str, ocr: OCR | None = None, target_timeout: float = TARGET_TIMEOUT):
        """`target_timeout`: seconds to wait for a target to appear, or a button to look enabled."""
        self.clauses = ins.parse_instruction(instruction)  # refuses what it cannot do before acting
        self.ocr, self.target_timeout = ocr or OCR(), target_timeout
        self._frame: Frame | None = None
        self.popups: list[Box] = []  # bordered boxes drawn over the screen since: read on their own
        self.last_point: tuple[float, float] | None = None
        self._scene: Scene | None = None
        self._plan = self._decisions()

    @property
    def frame(self) -> Frame:
        """The frame planned on: the last one `decide` was given."""
        if self._frame is None:
            raise GroundingError("the embedded planner has seen no frame yet")
        return self._frame

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        """One clause's actions (a whole `type "X" into F`: click, select, type) as one decision."""
        started = time.perf_counter()
        previous, self._frame, self._scene = self._frame, frame, None
        self._track_popups(previous)
        if feedback:  # an action failed: the plan cannot go on blindly
            raise GroundingError(f"stopping: {feedback}")
        done: list[a.Action] = [a.Done()]
        explanation, actions = next(self._plan, ("Every instruction is carried out.", done))
        for action in actions:
            if points := action.points():
                self.last_point = frame.geometry.model_to_image(next(iter(points.values())))
        calls = "\n".join(action.call() for action in actions)  # as a model writes several: a replay reads them back
        raw = f"{explanation} <|begin_of_box|>{calls}<|end_of_box|>"
        reply = Reply(raw, timings={"model": time.perf_counter() - started})
        return Decision(reply, actions[0], explanation, None, then=actions[1:])

    def _track_popups(self, previous: Frame | None) -> None:
        """Keep the popups still drawn, and add the bordered boxes that appeared since the last frame."""
        pixels = self.frame.pixels
        if previous is None or previous.pixels.shape != pixels.shape:
            self.popups = []
            return
        kept = [box for box in self.popups if g.has_border(pixels, box)]
        self.popups = kept + [box for box in g.new_rectangles(previous.pixels, pixels) if box not in kept]

    # -- seeing -------------------------------------------------------------------------------

    def scene(self, full_read: bool = False) -> Scene:
        """The current frame's text and rectangles; text detection reuses the last read where the
        screen did not change, unless `full_read`."""
        if self._scene is None or (full_read and not self._scene.full_read):
            rectangles = self._scene._rectangles if self._scene else None  # of this same frame
            self._scene = Scene(self.frame, self.ocr.lines(self.frame.pixels, full=full_read, apart=self.popups),
                                full_read, rectangles)
        return self._scene

    def model_point(self, point: tuple[float, float]) -> tuple[int, int]:
        return self.frame.geometry.image_to_model(point)

    def find(self, target: str, within: Box | None = None) -> g.Match | None:
        """The best match, preferring text inside a clickable-looking box, then the one nearest
        the previous action. A misspelt target as near to two different texts is an error, not a guess."""
        scene = self.scene()
        matches = g.find_in_lines(scene.lines, target, self.last_point, within, scene.rectangles)
        if not matches and not scene.lines.detected_afresh(within):  # before giving up, read the screen afresh
            scene = self.scene(full_read=True)
            matches = g.find_in_lines(scene.lines, target, self.last_point, within, scene.rectangles)
        if not matches:
            return None
        best = matches[0]
        if not best.exact:  # a misspelling: only if it names one text and no other nearly as well
            rivals = [m.part for m in matches
                      if best.score - m.score < AMBIGUOUS and g.fold(m.part) != g.fold(best.part)]
            if rivals:
                raise GroundingError(f"{target!r} is not on screen, and it is as near to more than one text; "
                                     f"{g.did_you_mean(list(dict.fromkeys([best.part, *rivals])))}")
        top = [m for m in matches if round(m.score, 2) == round(best.score, 2)]
        return min(top, key=lambda m: self._button_around(m.box) is None)

    def _button_around(self, text: Box) -> Box | None:
        return g.button_around(self.scene().rectangles, text)

    def click_point(self, match: g.Match) -> tuple[float, float]:
        button = self._button_around(match.box)
        return box_centre(button) if button else match.centre

    def not_found(self, target: str, where: str = "on screen") -> GroundingError:
        closest = g.closest_texts(self.scene().texts, target)
        return GroundingError(f"{target!r} is not {where}; {g.did_you_mean(closest)}")

    # -- doing: each clause is a generator of decisions, (explanation, actions), returning the check of
    # its effect (see `_carry_out`) --------------------------------------------------------------------

    def _decisions(self):
        for clause in self.clauses:
            yield from self._carry_out(clause)

    def _carry_out(self, clause: ins.Clause):
        """Do the clause, then look for its effect on the settled screen, and once more on a fresh one
        (an app may draw late); where doing it again is safe, do it once more; then stop, failed,
        saying what the screen shows instead. So `done` means every effect was seen."""
        handlers: dict[type, Callable[..., Any]] = {
            ins.ClickOn: self._click, ins.SetTick: self._tick, ins.TypeInto: self._type, ins.Press: self._press,
            ins.ScrollIn: self._scroll, ins.WaitFor: self._wait_for, ins.SelectFrom: self._select}
        for _ in range(2 if safe_to_redo(clause) else 1):
            check = yield from handlers[type(clause)](clause)
            if check is None or (instead := check()) is None:
                return
            yield f"The effect of {clause.said!r} does not show yet; look again.", [a.Wait(seconds=LOOK_AGAIN)]
            if (instead := check()) is None:
                return
        yield f"{clause.said!r} did not take effect: {instead}.", [a.Fail()]

    def _locate(self, target: str):
        """Find the target; if it is not there, scroll the region of the previous action once."""
        match = self.find(target)
        if match is None and self.last_point is not None:
            yield (f"{target!r} is not on screen; scroll where I last acted to look for it.",
                   [a.Scroll(point=self.model_point(self.last_point), direction="down", steps=3)])
            match = self.find(target)
        if match is None:
            raise self.not_found(target)
        return match

    def _changed_since(self, before: Frame, point: tuple[float, float] | None = None) -> Check:
        """Anything drawn counts but a text cursor blinking away from the `point` clicked; the one a
        click into text placed counts (it blinks too: see `_carry_out`)."""
        def check() -> str | None:
            after = self.frame.pixels
            changed = (g.changed_by_click(before.pixels, after, point) if point else not self.frame.same_as(before))
            return None if changed else "nothing changed on the screen"
        return check

    def _click(self, clause: ins.ClickOn):
        match = yield from self._locate(clause.target)
        match = yield from self._until_enabled(clause.target, match)
        on_image = self.click_point(match)
        point = self.model_point(on_image)
        verb = {(1, "left"): "Click", (2, "left"): "Double-click", (1, "right"): "Right-click"}[
            (clause.count, clause.button)]
        action = (a.DoubleClick(point=point, element_info=clause.target) if clause.count == 2 else
                  a.Click(point=point, button=clause.button, element_info=clause.target))
        before = self.frame
        yield f"{verb} {clause.target!r}.", [action]
        return self._changed_since(before, on_image)

    def _until_enabled(self, target: str, match: g.Match):
        """The target once its button no longer looks disabled (greyed out), looked at every WAIT_STEP
        up to the target timeout; after that the run stops, failed, the button not clicked."""
        deadline = time.monotonic() + self.target_timeout
        while self._button_around(match.box) and g.looks_greyed(self.frame.pixels, match.box):
            if time.monotonic() > deadline:
                yield (f"{target!r} still looks disabled (greyed out) after {self.target_timeout:g} s; "
                       "it was not clicked.", [a.Fail()])
            yield f"{target!r} looks disabled (greyed out); wait for it.", [a.Wait(seconds=WAIT_STEP)]
            found = self.find(target)
            if found is None:
                raise self.not_found(target)
            match = found
        return match

    def _tick(self, clause: ins.SetTick):
        label = yield from self._locate(clause.target)
        box = g.checkbox_for_label(self.scene().rectangles, label.text.box)
        if box is None:
            raise GroundingError(f"there is no check box left of {clause.target!r}")
        if g.is_ticked(self.frame.pixels, box) != clause.on:
            verb = "Tick" if clause.on else "Untick"
            yield (f"{verb} {clause.target!r}.",
                   [a.Click(point=self.model_point(box_centre(box)), element_info=f"{clause.target} check box")])
        instead = f"its check box still shows {'unticked' if clause.on else 'ticked'}"
        return lambda: None if g.is_ticked(self.frame.pixels, box) == clause.on else instead

    def _type(self, clause: ins.TypeInto):
        typing = a.TypeText(content=clause.text)
        if not clause.field:
            before = self.frame
            yield f"Type {clause.text!r}.", [typing]
            if "{{" in clause.text or not clause.text.strip():
                return None  # a secret is often typed where nothing shows; a space may move a cursor alone
            return self._changed_since(before)
        label = yield from self._locate(clause.field)
        box = g.field_for_label(self.frame.pixels, self.scene().rectangles, label.text.box)
        if box is None:
            raise GroundingError(f"there is no text field next to {clause.field!r}")

        def click(point: tuple[float, float]) -> a.Click:
            return a.Click(point=self.model_point(point), element_info=f"{clause.field} field")

        before = self.frame
        shown = g.shown_in_field(self.frame.pixels, box)
        one_line = box[3] - box[1] <= 2.5 * (label.box[3] - label.box[1])
        if shown is None:  # nothing in it, not even a text cursor: nothing to clear
            yield (f"Type {clause.text!r} into the empty {clause.field!r} field: focus it, type.",
                   [click(box_centre(box)), typing])
        elif one_line and shown[1] + 2 * AFTER_TEXT <= box[2] - 2:  # its text ends inside it: click after it
            # (which also undoes a selection of part of it, as a rename dialog makes of a file's base name)
            yield (f"Replace what the {clause.field!r} field holds with {clause.text!r}: click after its text, "
                   "select back to its start, type.",
                   [click((shown[1] + AFTER_TEXT, box_centre(box)[1])), a.Key(keys="shift+home"), typing])
        else:  # text may run on beyond what shows
            yield (f"Replace what the {clause.field!r} field holds with {clause.text!r}: focus it, select it all, "
                   "type.",
                   [click(box_centre(box)), a.Key(keys="end"), a.Key(keys="shift+home"), typing])
        return lambda: self._typed_shows(clause.text, box, before)

    def _typed_shows(self, text: str, box: Box, before: Frame) -> str | None:
        """None when the field shows the text typed into it, read back where OCR reads it; else what it shows.
        A secret, a password field's dots and a single character are not read back, but the field must
        have changed."""
        pixels = self.frame.pixels
        if "\n" in text or "\t" in text or not g.has_border(pixels, box):
            return None  # a newline or tab may send the form or leave the field; a field gone left with its dialog
        shown = g.shown_in_field(pixels, box)
        if shown is None or shown[1] - shown[0] <= g.CURSOR_WIDTH:
            return None if not text.strip() else "the field still shows nothing"
        x0, y0, x1, y1 = box
        read = self._read_field(box)
        if "{{" in text or len(text.strip()) < 2 or read is None or not any(c.isalnum() for c in read):
            changed = not np.array_equal(before.pixels[y0:y1, x0:x1], pixels[y0:y1, x0:x1])
            return None if changed else "the field did not change"
        if g.reads_as(text, read, partly=shown[1] >= x1 - 2 - AFTER_TEXT):
            return None
        return f"the field shows {read!r}"

    def _read_field(self, box: Box) -> str | None:
        """The text OCR reads inside a field (or a drop-down), or None where it reads none."""
        lines = self.scene().lines
        lines.detect_rectangle(box)
        texts = lines.read([line for line in lines.boxes if centre_in(line, box)])
        return " ".join(t.text for t in reading_order(texts)) or None

    def _press(self, clause: ins.Press):
        yield f"Press {clause.keys}.", [a.Key(keys=clause.keys)]

    def _scroll(self, clause: ins.ScrollIn):
        area, point = yield from self._scroll_area(clause)
        x0, y0, x1, y1 = area
        before = self.frame.pixels[y0:y1, x0:x1, :3].copy()
        where = f" in {clause.within!r}" if clause.within else ""
        yield (f"Scroll {clause.direction}{where}.",
               [a.Scroll(point=self.model_point(point), direction=clause.direction, steps=5,
                         element_info=clause.within or "")])
        if not moved(before, self.frame.pixels[y0:y1, x0:x1, :3]):  # this frame is the one after the scroll
            raise GroundingError(f"scrolling {clause.direction}{where} moved nothing there: it is at its end, "
                                 "or nothing there scrolls")

    def _scroll_area(self, clause: ins.ScrollIn):
        """The box to watch and the point to scroll at: the visible part of the window titled X, else
        the list or field labelled X, else the text X itself (a line of a document) and what holds
        it; without X, where it last acted, watching the whole screen (what scrolls there is unknown)."""
        pixels, rectangles = self.frame.pixels, self.scene().rectangles
        screen = (0, 0, self.frame.width, self.frame.height)
        if not clause.within:
            return screen, self.last_point or box_centre(screen)
        label = yield from self._locate(clause.within)
        if window := g.window_under_title(pixels, label.text.box):
            return window, box_centre(window)
        if box := g.field_for_label(pixels, rectangles, label.text.box, light=False):
            return box, box_centre(box)
        holding = g.smallest_containing(rectangles, label.centre, screen_area=screen[2] * screen[3])
        return holding or around(label.centre, screen), label.centre

    def _wait_for(self, clause: ins.WaitFor):
        deadline = time.monotonic() + self.target_timeout
        while self.find(clause.target) is None:
            if time.monotonic() > deadline:
                raise self.not_found(clause.target, f"on screen after {self.target_timeout:g} s")
            yield f"Wait for {clause.target!r} to appear.", [a.Wait(seconds=0.5)]

    def _select(self, clause: ins.SelectFrom):
        label = yield from self._locate(clause.container)
        box = g.field_for_label(self.frame.pixels, self.scene().rectangles, label.text.box, light=False)
        if box is None:
            raise GroundingError(f"there is no list or drop-down next to {clause.container!r}")
        text_height = label.box[3] - label.box[1]
        if box[3] - box[1] > 2.5 * text_height:  # a list: scroll it until the item shows
            yield from self._scroll_list_to(clause.item, box)
            item = self.find(clause.item, within=box)
        else:  # a drop-down: open it, then pick the item from what opens
            yield f"Open the {clause.container!r} drop-down.", [a.Click(point=self.model_point(box_centre(box)),
                                                                       element_info=clause.container)]
            item = self.find(clause.item, within=(0, box[1], self.frame.width, self.frame.height))
        if item is None:
            raise self.not_found(clause.item, f"in {clause.container!r}")
        yield f"Choose {clause.item!r}.", [a.Click(point=self.model_point(item.centre), element_info=clause.item)]
        return lambda: self._chosen_shows(clause, box, listed=box[3] - box[1] > 2.5 * text_height)

    def _chosen_shows(self, clause: ins.SelectFrom, box: Box, listed: bool) -> str | None:
        """None when the item shows as chosen: its row in the list has a selection's background, or
        the drop-down shows it; else what shows."""
        item = self.find(clause.item, within=box)
        if listed:
            if item and g.row_looks_selected(self.frame.pixels, box, item.box):
                return None
            return f"{clause.item!r} does not show as selected in the list"
        return None if item else f"the drop-down shows {self._read_field(box) or 'nothing'!r}"

    def _scroll_list_to(self, item: str, box: Box):
        x0, y0, x1, y1 = box
        for _ in range(LIST_SCROLLS):
            if self.find(item, within=box):
                return
            before = self.frame.pixels[y0:y1, x0:x1, :3].copy()
            yield f"{item!r} is not in view; scroll the list.", [a.Scroll(point=self.model_point(box_centre(box)),
                                                                         direction="down", steps=3)]
            if not moved(before, self.frame.pixels[y0:y1, x0:x1, :3]):
                return  # the list did not move: it is at its end
