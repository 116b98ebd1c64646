import math

import pytest

from agent.core.geometry import Geometry, Monitor, image_tokens, smart_resize

# (monitor in screen coordinates, size of the image the model saw)
GEOMETRIES = {
    "1024x768": (Monitor(0, 0, 1024, 768), (1024, 768)),
    "1366x768": (Monitor(0, 0, 1366, 768), (1366, 768)),
    "1920x1080": (Monitor(0, 0, 1920, 1080), (1920, 1080)),
    "2560x1440@2": (Monitor(0, 0, 1280, 720, scale=2.0), (2560, 1440)),
    "second monitor at x=1920": (Monitor(1920, 0, 1280, 1024), (1280, 1024)),
    "monitor left of primary": (Monitor(-1366, 100, 1366, 768), (1366, 768)),
    "image sent downscaled": (Monitor(0, 0, 1920, 1080), (1280, 720)),
}


@pytest.fixture(params=GEOMETRIES, ids=list(GEOMETRIES))
def geometry(request):
    monitor, (width, height) = GEOMETRIES[request.param]
    return Geometry(monitor, width, height)


def test_every_model_point_lands_inside_the_monitor(geometry):
    m = geometry.monitor
    for value in range(1000):
        x, y = geometry.model_to_screen((value, value))
        assert m.left <= x < m.left + m.width and m.top <= y < m.top + m.height


def test_model_to_screen_follows_the_per_mille_rule(geometry):
    m = geometry.monitor
    for value in (0, 1, 250, 500, 731, 998, 999):
        x, y = geometry.model_to_screen((value, 999 - value))
        # the centre of the per-mille cell, scaled to the monitor: x_px = (x + 0.5) / 1000 * W
        assert x == m.left + math.floor((value + 0.5) * m.width / 1000)
        assert y == m.top + math.floor((999 - value + 0.5) * m.height / 1000)


def test_model_to_screen_to_model_is_exact_when_the_screen_has_a_thousand_pixels_or_more(geometry):
    for value in range(1000):
        x, y = geometry.screen_to_model(geometry.model_to_screen((value, value)))
        if geometry.monitor.width >= 1000:
            assert x == value
        if geometry.monitor.height >= 1000:
            assert y == value
        # with fewer pixels than per-mille steps, a pixel covers at most two model values
        assert abs(x - value) <= 1 and abs(y - value) <= 1


def test_screen_to_model_to_screen_stays_within_one_model_step(geometry):
    m = geometry.monitor
    step_x, step_y = math.ceil(m.width / 1000), math.ceil(m.height / 1000)
    for px in range(m.left, m.left + m.width, 7):
        py = m.top + (px - m.left) * m.height // m.width
        x, y = geometry.model_to_screen(geometry.screen_to_model((px, py)))
        assert abs(x - px) <= step_x and abs(y - py) <= step_y


def test_image_and_screen_conversions_are_inverse(geometry):
    for point in [(0.0, 0.0), (10.5, 20.25), (geometry.image_width - 1.0, geometry.image_height - 1.0)]:
        back = geometry.screen_to_image(geometry.image_to_screen(point))
        assert back == pytest.approx(point)


def test_hidpi_image_pixels_map_to_half_as_many_screen_pixels():
    geometry = Geometry(Monitor(0, 0, 1280, 720, scale=2.0), 2560, 1440)
    assert geometry.image_to_screen((2000, 1000)) == (1000, 500)
    assert geometry.screen_to_image((1000, 500)) == (2000, 1000)


def test_second_monitor_offset_is_added_and_removed():
    geometry = Geometry(Monitor(1920, 0, 1280, 1024), 1280, 1024)
    assert geometry.model_to_screen((0, 0)) == (1920, 0)
    assert geometry.model_to_screen((500, 500)) == (1920 + 640, 512)
    assert geometry.screen_to_model((1920 + 640, 512)) == (500, 500)


def test_a_screen_point_off_the_monitor_is_refused():
    geometry = Geometry(Monitor(1920, 0, 1280, 1024), 1280, 1024)
    with pytest.raises(ValueError, match="outside the monitor"):
        geometry.screen_to_model((100, 100))


@pytest.mark.parametrize("size, tokens", [((1280, 720), 1196), ((1920, 1080), 2691), ((2560, 1440), 4641),
                                          ((960, 540), 646)])
def test_image_tokens_match_the_glm4v_processor(size, tokens):
    assert image_tokens(*size) == tokens


def test_smart_resize_caps_huge_images_and_grows_tiny_ones():
    w, h = smart_resize(7680, 4320)
    assert 2 * w * h <= 9_633_792 and w % 28 == 0 and h % 28 == 0
    w, h = smart_resize(20, 20)
    assert 2 * w * h >= 12_544 and w % 28 == 0
