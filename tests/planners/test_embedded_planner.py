"""The embedded planner's decisions on drawn frames, with no display: what one clause becomes,
what it refuses, and how it grounds popups, misspellings and scrolls."""

import time

import cv2
import numpy as np
import pytest

from agent.core import actions as a
from agent.core.errors import GroundingError
from agent.core.geometry import Monitor
from agent.core.ocr import OCR, KnownLines, TextBox
from agent.core.planner import Reply
from agent.core.screen import Frame
from agent.planners import grounding as g
from agent.planners.embedded import LocalPlanner, reading_order
from agent.planners.glm import interpret
from tests.support import FRAMES

WIDTH, HEIGHT = 1000, 700
GRAY, WHITE, DARK = 217, 255, 90


class ScriptedOCR:
    """Returns the texts it is given for every read, and notes what it was asked to read apart."""

    def __init__(self, *texts: tuple[str, tuple[int, int, int, int]]):
        self.texts = [TextBox(text, 1.0, box) for text, box in texts]
        self.apart: list[list] = []

    def lines(self, image, full=False, apart=()):
        self.apart.append(list(apart))
        return KnownLines(self.texts)


def canvas(colour: int = GRAY) -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 3), colour, np.uint8)


def bordered(image: np.ndarray, box, fill: int = WHITE) -> np.ndarray:
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = fill
    cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (DARK,) * 3, 1)
    return image


def frame(image: np.ndarray) -> Frame:
    return Frame(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA), Monitor(0, 0, image.shape[1], image.shape[0]))


def screen_points(decision, image) -> list[tuple[int, int]]:
    f = frame(image)
    return [f.geometry.model_to_screen(p) for action in decision.actions for p in action.points().values()]


FIELD = (120, 40, 500, 66)
FORM_TEXTS = [("Name", (40, 45, 80, 61)), ("Email", (40, 85, 82, 101)), ("File", (40, 125, 70, 141)),
              ("Field", (40, 165, 80, 181))]


def form_image() -> np.ndarray:
    return bordered(canvas(), FIELD)


def field_showing(text: str = "", caret: bool = False) -> np.ndarray:
    image = form_image()
    if text:
        cv2.putText(image, text, (FIELD[0] + 4, FIELD[3] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    if caret:
        image[FIELD[1] + 4:FIELD[3] - 4, FIELD[0] + 4] = 0
    return image


def test_typing_into_an_empty_field_is_a_click_and_the_text_and_keeps_the_spaces_around_it():
    planner = LocalPlanner('type " jumps over " into Name', ScriptedOCR(*FORM_TEXTS))
    decision = planner.decide("", frame(form_image()))
    assert [type(action) for action in decision.actions] == [a.Click, a.TypeText]  # nothing there to clear
    assert decision.actions[-1].content == " jumps over "
    assert interpret(Reply(decision.reply.raw)).actions == decision.actions  # what a replay of the episode does
    x, y = screen_points(decision, form_image())[0]
    assert FIELD[0] <= x < FIELD[2] and FIELD[1] <= y < FIELD[3]
    assert isinstance(planner.decide("", frame(field_showing("jumps over"))).action, a.Done)


def test_a_field_that_holds_text_is_clicked_after_it_and_selected_back_to_its_start():
    image = field_showing("Grace Hopper")
    decision = LocalPlanner('type "Ada" into Name', ScriptedOCR(*FORM_TEXTS)).decide("", frame(image))
    assert [action.call().split("(")[0] for action in decision.actions] == ["left_click", "key", "type"]
    assert decision.actions[1].keys == ["shift", "home"]
    x, y = screen_points(decision, image)[0]
    text_end = FIELD[0] + 4 + cv2.getTextSize("Grace Hopper", cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0][0]
    assert text_end < x < FIELD[2] and FIELD[1] <= y < FIELD[3]


@pytest.mark.parametrize("image, keys", [
    (field_showing(caret=True), ["shift+home"]),  # a text cursor alone may be a thin letter: cleared all the same
    (field_showing("a text long enough to run on past the end of the field, as long ones do"), ["end", "shift+home"]),
])
def test_a_field_whose_content_is_not_plainly_known_is_cleared_before_typing(image, keys):
    decision = LocalPlanner('type "Ada" into Name', ScriptedOCR(*FORM_TEXTS)).decide("", frame(image))
    assert ["+".join(action.keys) for action in decision.actions if isinstance(action, a.Key)] == keys
    assert isinstance(decision.actions[-1], a.TypeText)


def calls(decision) -> list[str]:
    return [action.call().split("(")[0] for action in decision.actions]


@pytest.mark.parametrize("after", [form_image(), field_showing(caret=True)])
def test_typing_that_left_the_field_empty_is_looked_at_again_typed_again_then_failed_not_done(after):
    planner = LocalPlanner('type "Ada" into Name', ScriptedOCR(*FORM_TEXTS))
    assert calls(planner.decide("", frame(form_image()))) == ["left_click", "type"]
    assert calls(planner.decide("", frame(after))) == ["WAIT"]  # the app may draw late: a fresh look
    assert calls(planner.decide("", frame(after)))[-1] == "type"  # typed again: into a named field, that is safe
    assert calls(planner.decide("", frame(after))) == ["WAIT"]
    failed = planner.decide("", frame(after))
    assert isinstance(failed.action, a.Fail)
    assert failed.explanation == "'type \"Ada\" into Name' did not take effect: the field still shows nothing."


def test_an_effect_that_shows_on_the_second_look_is_taken():
    planner = LocalPlanner('type "Ada" into Name', ScriptedOCR(*FORM_TEXTS))
    planner.decide("", frame(form_image()))
    assert calls(planner.decide("", frame(form_image()))) == ["WAIT"]
    assert isinstance(planner.decide("", frame(field_showing("Ada"))).action, a.Done)


def test_what_may_not_show_as_typed_is_not_checked():
    """A newline may send the form or leave the field."""
    planner = LocalPlanner('type "line one\nline two" into Name', ScriptedOCR(*FORM_TEXTS))
    planner.decide("", frame(form_image()))
    assert isinstance(planner.decide("", frame(form_image())).action, a.Done)


@pytest.mark.parametrize("text", ["{{PASSWORD}}", "x"])
def test_what_is_not_read_back_must_at_least_change_the_field(text):
    """A secret is covered on screen (a password field shows dots), a letter may be as thin as a text cursor."""
    planner = LocalPlanner(f'type "{text}" into Name', ScriptedOCR(*FORM_TEXTS))
    planner.decide("", frame(form_image()))
    assert isinstance(planner.decide("", frame(field_showing("*****"))).action, a.Done)
    unchanged = LocalPlanner(f'type "{text}" into Name', ScriptedOCR(*FORM_TEXTS))
    unchanged.decide("", frame(field_showing("old")))
    assert calls(unchanged.decide("", frame(field_showing("old")))) == ["WAIT"]


@pytest.mark.parametrize("target, meant", [("Name", "Name"), ("nmae", "Name"), ("Nme", "Name"), ("Emial", "Email"),
                                           ("Field", "Field"), ("File", "File")])
def test_a_swapped_pair_of_letters_is_tolerated_like_a_dropped_one_and_exact_text_wins(target, meant):
    decision = LocalPlanner(f"click {target}", ScriptedOCR(*FORM_TEXTS)).decide("", frame(form_image()))
    box = dict(FORM_TEXTS)[meant]
    x, y = screen_points(decision, form_image())[0]
    assert box[0] <= x < box[2] and box[1] <= y < box[3]


@pytest.mark.parametrize("target, message", [
    ("Nmaee", "'Nmaee' is not on screen; did you mean 'Name'"),
    ("Fiel", "'Fiel' is not on screen, and it is as near to more than one text; did you mean 'Field' or 'File'?"),
    ("Frobnicate", "'Frobnicate' is not on screen; did you mean "),
])
def test_a_target_it_cannot_tell_is_an_error_that_names_the_closest_texts(target, message):
    with pytest.raises(GroundingError) as raised:
        LocalPlanner(f"click {target}", ScriptedOCR(*FORM_TEXTS)).decide("", frame(form_image()))
    assert str(raised.value).startswith(message)


def test_similarity_counts_a_swap_as_one_dropped_letter():
    assert g.similarity("nmae", "name") == g.similarity("nme", "name") > g.MATCH_THRESHOLD
    assert g.similarity("name", "name") == 1.0
    assert g.similarity("mane", "name") < g.MATCH_THRESHOLD  # two swaps apart, not one


LIST = (120, 100, 400, 300)


def list_image(first_row: int) -> np.ndarray:
    image = bordered(canvas(), LIST)
    for row in range(8):
        cv2.putText(image, f"Item {first_row + row}", (130, 125 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0,) * 3)
    return image


def test_a_scroll_that_moved_nothing_is_an_error_and_one_that_moved_is_done():
    texts = ScriptedOCR(("Items", (40, 105, 90, 121)))
    stuck = LocalPlanner("scroll up in Items", texts)
    decision = stuck.decide("", frame(list_image(1)))
    x, y = screen_points(decision, list_image(1))[0]
    assert isinstance(decision.action, a.Scroll) and LIST[0] <= x < LIST[2] and LIST[1] <= y < LIST[3]
    with pytest.raises(GroundingError, match="scrolling up in 'Items' moved nothing"):
        stuck.decide("", frame(list_image(1)))
    moving = LocalPlanner("scroll down in Items", texts)
    moving.decide("", frame(list_image(1)))
    assert isinstance(moving.decide("", frame(list_image(4))).action, a.Done)


@pytest.mark.parametrize("moves", [True, False])
def test_a_scroll_with_no_target_watches_the_whole_screen(moves):
    planner = LocalPlanner("scroll down", ScriptedOCR())
    assert isinstance(planner.decide("", frame(list_image(1))).action, a.Scroll)  # at the centre, off the list
    if moves:
        assert isinstance(planner.decide("", frame(list_image(4))).action, a.Done)
    else:
        with pytest.raises(GroundingError, match="scrolling down moved nothing"):
            planner.decide("", frame(list_image(1)))


EDITOR, FORM = (60, 40, 780, 515), (300, 200, 1000, 700)  # two windows; the form lies over the editor
TITLE_BAR = 19


def window(image: np.ndarray, box, title: str) -> tuple[str, tuple[int, int, int, int]]:
    x0, y0, x1, y1 = box
    bordered(image, box, fill=GRAY)
    bordered(image, (x0, y0, x1, y0 + TITLE_BAR), fill=235)
    bordered(image, (x0 + 4, y0 + 50, x1 - 4, y1 - 4))  # its document or list
    text_x = (x0 + x1) // 2 - 40
    cv2.putText(image, title, (text_x, y0 + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (60, 60, 60), 1)
    return title, (text_x, y0 + 3, text_x + 80, y0 + 16)


def windows_image(covered: bool) -> tuple[np.ndarray, list]:
    image = canvas(0)
    titles = [window(image, EDITOR, "Demo Editor")]
    if covered:
        titles.append(window(image, FORM, "Demo Form"))
    return image, titles


@pytest.mark.parametrize("covered", [False, True])
def test_scrolling_in_a_window_named_by_its_title_scrolls_in_the_part_of_it_that_shows(covered):
    image, titles = windows_image(covered)
    decision = LocalPlanner("scroll down in editor", ScriptedOCR(*titles)).decide("", frame(image))
    x, y = screen_points(decision, image)[0]
    assert EDITOR[0] < x < EDITOR[2] and EDITOR[1] + TITLE_BAR < y < EDITOR[3]
    assert not (covered and FORM[0] <= x and FORM[1] <= y)


def test_scrolling_in_a_window_that_is_not_on_screen_is_refused():
    image, titles = windows_image(covered=True)
    with pytest.raises(GroundingError, match="'Notes' is not on screen; did you mean"):
        LocalPlanner("scroll down in Notes", ScriptedOCR(*titles)).decide("", frame(image))


def test_the_visible_part_of_a_window_ends_where_a_window_over_it_begins():
    image, titles = windows_image(covered=True)
    left, top, right, bottom = g.window_under_title(image, titles[0][1])
    assert (left, right) == pytest.approx((EDITOR[0], EDITOR[2]), abs=2)
    assert top == pytest.approx(EDITOR[1] + TITLE_BAR, abs=3)
    assert bottom == pytest.approx(FORM[1], abs=2)
    assert g.window_under_title(image, (330, 290, 390, 306)) is None  # text inside a window is no title


POPUP = (300, 130, 420, 200)


def text_lines(image: np.ndarray) -> np.ndarray:
    for row in range(6):
        cv2.putText(image, f"Line {row + 1}: the quick brown fox", (20, 120 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6, (0, 0, 0), 1)
    return image


def test_a_bordered_box_drawn_over_the_screen_is_found_as_a_popup_and_a_text_change_is_not():
    before = text_lines(canvas(WHITE))
    popup = bordered(before.copy(), POPUP, fill=GRAY)
    assert g.new_rectangles(before, popup) == [POPUP]
    typed = before.copy()
    cv2.putText(typed, "jumps", (430, 120), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    assert g.new_rectangles(before, typed) == []


def test_the_planner_reads_a_popup_that_appeared_apart_until_it_goes():
    before = text_lines(canvas(WHITE))
    popup = bordered(before.copy(), POPUP, fill=GRAY)
    ocr = ScriptedOCR(("brown", (200, 105, 250, 125)), ("Paste", (310, 170, 360, 190)))
    planner = LocalPlanner("right-click brown, click Paste, click brown", ocr)
    for image in (before, popup, before):
        planner.decide("", frame(image))
    assert ocr.apart == [[], [POPUP], []]


def test_text_beside_a_popup_is_not_read_as_one_line_with_its_items():
    image = canvas(WHITE)
    font = cv2.FONT_HERSHEY_SIMPLEX
    (width, _), _ = cv2.getTextSize("Line 4: the quick brow", font, 0.6, 1)
    popup = (20 + width + 3, 84, 20 + width + 123, 172)  # opened right after the text, as a context menu does
    bordered(image, popup, fill=GRAY)
    for row, item in enumerate(["Upper Case", "Copy", "Paste"]):
        cv2.putText(image, f"Line {row + 4}: the quick brow", (20, 122 + 22 * row), font, 0.6, (0, 0, 0), 1)
        cv2.putText(image, item, (popup[0] + 5, 122 + 22 * row), font, 0.6, (0, 0, 0), 1)
    ocr = OCR()
    merged = [g.fold(t.text) for t in ocr.read(image)]
    assert "uppercase" not in merged  # read whole, the item runs into the line beside it
    apart = [g.fold(t.text) for t in ocr.read(image, apart=[popup])]
    assert {"uppercase", "copy", "paste", g.fold("Line 4: the quick brow")} <= set(apart), apart


def test_a_context_menu_of_the_demo_editor_is_grounded():
    """Screenshots of the demo editor before and after right-clicking 'brown' on line 4: read as
    one screen, the menu's last item runs into the line beside it ('Line6:thequick browpaste')."""
    before, after = (cv2.imread(str(FRAMES / f"context-menu-{name}.png"))
                     for name in ("before", "after"))
    planner = LocalPlanner("right-click brown, click Paste")
    planner.decide("", frame(before))
    decision = planner.decide("", frame(after))
    assert planner.popups == [(211, 133, 309, 200)]
    x, y = screen_points(decision, after)[0]
    assert isinstance(decision.action, a.Click) and 211 <= x < 309 and 178 <= y < 200  # on 'Paste', the last item


BUTTON, BUTTON_LABEL = (400, 300, 480, 330), (420, 305, 460, 325)


def button_image(ink: int) -> np.ndarray:
    image = bordered(canvas(240), BUTTON, fill=245)
    cv2.putText(image, "Save", (BUTTON_LABEL[0], BUTTON_LABEL[3] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (ink,) * 3, 1)
    return image


def test_a_greyed_out_button_is_waited_for_then_reported_not_clicked():
    planner = LocalPlanner("click Save", ScriptedOCR(("Save", BUTTON_LABEL)), target_timeout=0.1)
    assert calls(planner.decide("", frame(button_image(ink=150)))) == ["WAIT"]
    time.sleep(0.2)
    failed = planner.decide("", frame(button_image(ink=150)))
    assert isinstance(failed.action, a.Fail)
    assert failed.explanation == "'Save' still looks disabled (greyed out) after 0.1 s; it was not clicked."


def test_a_button_enabled_while_waited_for_is_clicked():
    planner = LocalPlanner("click Save", ScriptedOCR(("Save", BUTTON_LABEL)), target_timeout=60)
    assert calls(planner.decide("", frame(button_image(ink=150)))) == ["WAIT"]
    assert calls(planner.decide("", frame(button_image(ink=20)))) == ["left_click"]


@pytest.mark.parametrize("typed, read, partly, same", [
    ("final.txt", "final.txt", False, True), ("final.txt", "final.txt.txt", False, False),
    ("Ada Lovelace", "Ada Lovelacel", False, True),  # a text cursor after the text read as one more letter
    ("ünïcode.txt", "unicode.txt", False, True), ("125+375", "12537", False, False),
    ("ada@example.com", "ada@example.corn", False, True),
    ("a long address that runs on", "ddress that runs on", True, True), ("a long address", "ddress", False, False),
    ("grüße.txt", "jrulse.txt", False, True),  # rapidocr's reading of a right grüße.txt in the editor's Save As
    ("grüße.txt", "grüe.txt", False, True), ("grüße.txt", "grüße", False, False),
    ("Köln 12345", "Koln 12345", False, True), ("Köln 12345", "Koln 1234", False, False),
    ("東京 report", "report", False, True), ("東京 report", "repot", False, False),
    ("Zoë", "Zoe", False, True), ("Zoë", "Grace", False, False), ("日本語", "Ada", False, False),
])
def test_a_field_reads_as_the_typed_text_up_to_what_ocr_confuses(typed, read, partly, same):
    assert g.reads_as(typed, read, partly) is same


def test_a_list_row_with_a_background_of_its_own_looks_selected():
    image = list_image(1)
    row = (LIST[0] + 2, 111, LIST[2] - 2, 130)
    assert not g.row_looks_selected(image, LIST, row)
    image[row[1]:row[3], row[0]:row[2]] = (200, 120, 60)
    assert g.row_looks_selected(image, LIST, row)


def test_the_words_of_a_field_read_back_are_put_in_reading_order():
    words = [TextBox("Hopper", 0.9, (170, 41, 220, 57)), TextBox("Grace", 0.9, (122, 42, 165, 58)),
             TextBox("next line", 0.9, (122, 62, 190, 78))]
    assert [t.text for t in reading_order(words)] == ["Grace", "Hopper", "next line"]


CHECK_BOX, CHECK_LABEL = (100, 200, 114, 214), ("Subscribe", (120, 199, 200, 215))


def check_box_image(ticked: bool) -> np.ndarray:
    image = bordered(canvas(), CHECK_BOX)
    if ticked:
        cv2.line(image, (103, 207), (107, 211), (0, 0, 0), 2)
        cv2.line(image, (107, 211), (112, 202), (0, 0, 0), 2)
    return image


def test_a_tick_that_does_not_show_is_clicked_once_more_then_the_run_fails():
    planner = LocalPlanner("tick Subscribe", ScriptedOCR(CHECK_LABEL))
    unticked = frame(check_box_image(ticked=False))
    assert [calls(planner.decide("", unticked)) for _ in range(4)] == [["left_click"], ["WAIT"], ["left_click"],
                                                                       ["WAIT"]]
    failed = planner.decide("", unticked)
    assert failed.explanation == "'tick Subscribe' did not take effect: its check box still shows unticked."
    ticking = LocalPlanner("tick Subscribe", ScriptedOCR(CHECK_LABEL))
    ticking.decide("", unticked)
    assert isinstance(ticking.decide("", frame(check_box_image(ticked=True))).action, a.Done)


def test_a_click_changed_the_screen_unless_only_a_text_cursor_blinked_away_from_it():
    before = form_image()
    caret_elsewhere = field_showing(caret=True)  # at the field's left end
    assert not g.changed_by_click(before, caret_elsewhere, (600, 400))
    assert g.changed_by_click(before, caret_elsewhere, (FIELD[0] + 20, FIELD[1] + 10))  # the cursor the click placed
    assert g.changed_by_click(before, field_showing("Ada"), (600, 400))
