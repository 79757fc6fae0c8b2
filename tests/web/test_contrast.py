"""The page's colours meet WCAG AA, in the light and the dark scheme: text at least 4.5:1
against what it sits on, progress bars at least 3:1 against their track (non-text contrast)."""

from __future__ import annotations

import re
from importlib import resources

import pytest

TONES = ("ready", "active", "waiting", "problem", "ended")
TEXT_PAIRS = [("text", "bg"), ("text", "surface"), ("muted", "bg"), ("muted", "surface"),
              ("accent", "bg"), ("accent", "surface"), ("surface", "accent"),
              ("text", "track"), ("active-fg", "surface"),
              # the Play button; a service behind, in the page's last line (issue 23)
              ("surface", "ready-bar"), ("problem-fg", "bg"),
              *((f"{t}-fg", f"{t}-bg") for t in TONES)]
BAR_PAIRS = [(f"{t}-bar", "track") for t in TONES] + [("problem-bar", "surface")]


def palettes() -> dict[str, dict[str, str]]:
    css = resources.files("reconciler.web").joinpath("static/style.css").read_text()
    light = css[css.index(":root {"):css.index("}", css.index(":root {"))]
    dark_start = css.index("@media (prefers-color-scheme: dark)")
    dark = css[dark_start:css.index("}", dark_start)]

    def colours(block: str) -> dict[str, str]:
        return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))

    base = colours(light)
    return {"light": base, "dark": {**base, **colours(dark)}}


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_both_schemes_define_every_colour() -> None:
    schemes = palettes()
    needed = {name for pair in TEXT_PAIRS + BAR_PAIRS for name in pair}
    for scheme in ("light", "dark"):
        assert needed <= set(schemes[scheme]), scheme
    assert schemes["dark"]["bg"] != schemes["light"]["bg"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_colours_reach_4_5_to_1(scheme: str, fg: str, bg: str) -> None:
    colours = palettes()[scheme]
    assert contrast(colours[fg], colours[bg]) >= 4.5, (fg, bg, colours[fg], colours[bg])


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("bar", "track"), BAR_PAIRS)
def test_progress_bars_reach_3_to_1(scheme: str, bar: str, track: str) -> None:
    colours = palettes()[scheme]
    assert contrast(colours[bar], colours[track]) >= 3.0, (bar, colours[bar], colours[track])
