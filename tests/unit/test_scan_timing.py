"""Unit tests of stemtwin.twin.scan.timing: raster pixel times and frame duration."""

from __future__ import annotations

import re

import numpy as np
import pytest

from stemtwin.twin.dose import Dose
from stemtwin.twin.errors import ConfigurationError
from stemtwin.twin.scan import frame_time, line_time, pixel_times

# Binary-exact times so the hand computation can be compared with ==.
DOSE = Dose(current=10.0, dwell_time=0.5, flyback_time=0.25)


def test_pixel_times_match_hand_computation() -> None:
    # t(i, j) = t0 + j·(nx·τ + τ_fb) + i·τ with nx = 3, τ = 0.5 s, τ_fb = 0.25 s -> line = 1.75 s.
    expected = np.array(
        [
            [10.0, 11.75],
            [10.5, 12.25],
            [11.0, 12.75],
        ]
    )
    t = pixel_times((3, 2), DOSE, t0=10.0)
    assert t.shape == (3, 2)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t, expected)


def test_x_is_the_fast_axis() -> None:
    dose = Dose(dwell_time=16e-6, flyback_time=60e-6)
    t = pixel_times((64, 32), dose)
    np.testing.assert_allclose(np.diff(t, axis=0), 16e-6, rtol=1e-9)
    np.testing.assert_allclose(np.diff(t, axis=1), 64 * 16e-6 + 60e-6, rtol=1e-9)
    # Every pixel gets a distinct time and reading the frame column by column is chronological.
    assert np.all(np.diff(t.ravel(order="F")) > 0)


def test_frame_time_and_line_time() -> None:
    assert line_time(3, DOSE) == 1.75
    assert frame_time((3, 2), DOSE) == 3.5
    # PHYSICS.md: a 512² frame at 16 µs with 60 µs flyback lasts about 4.2 s.
    assert frame_time((512, 512), Dose(dwell_time=16e-6, flyback_time=60e-6)) == pytest.approx(4.225, rel=1e-3)


def test_next_frame_starts_after_the_last_flyback() -> None:
    t = pixel_times((3, 2), DOSE, t0=1.0)
    end = 1.0 + frame_time((3, 2), DOSE)
    # The last pixel is followed by its dwell and the line's flyback.
    assert end == t[-1, -1] + DOSE.dwell_time + DOSE.flyback_time


@pytest.mark.parametrize(
    ("pixels", "field"),
    [((0, 4), "pixels[0]"), ((4, -1), "pixels[1]"), ((4.5, 4), "pixels[0]"), (8, "pixels"), ((1, 2, 3), "pixels")],
)
def test_bad_pixels_are_rejected(pixels: object, field: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"`{field}`")):
        pixel_times(pixels, DOSE)  # type: ignore[arg-type]


def test_bad_dose_and_t0_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="`dose`"):
        pixel_times((4, 4), 16e-6)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="`t0`"):
        pixel_times((4, 4), DOSE, t0=float("nan"))
