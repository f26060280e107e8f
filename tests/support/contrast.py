"""Legibility of a real terminal screen: every printed character's contrast against its cell's
background, read from the escape codes `tmux capture-pane -e` gives (SGR only).

The 16 ANSI colours and the default foreground and background are the terminal's own, so each
screen is measured twice: on a concrete dark palette and on a concrete light one (xterm's
colours; a terminal's palette differs, but a colour pair that fails here fails on most).
Contrast is WCAG's: (L1 + 0.05) / (L2 + 0.05) of the relative luminances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RGB = tuple[int, int, int]

XTERM_16: tuple[RGB, ...] = (
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
)  # fmt: skip


@dataclass(frozen=True)
class Palette:
    name: str
    foreground: RGB
    background: RGB
    ansi: tuple[RGB, ...] = XTERM_16


DARK = Palette("dark", foreground=(229, 229, 229), background=(0, 0, 0))
LIGHT = Palette("light", foreground=(0, 0, 0), background=(255, 255, 255))
PALETTES = (DARK, LIGHT)

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z])")
# A colour as the screen holds it: None (the default), ("ansi", n) for 0-255, ("rgb", r, g, b).
Colour = tuple[object, ...] | None


@dataclass
class Attrs:
    fg: Colour = None
    bg: Colour = None
    bold: bool = False
    dim: bool = False
    reverse: bool = False


@dataclass(frozen=True)
class Cell:
    row: int
    col: int
    char: str
    fg: Colour
    bg: Colour
    dim: bool
    reverse: bool


def _colour(params: list[int], i: int) -> tuple[Colour, int]:
    """A 38/48 extended colour starting at params[i] (the 5 or 2); the colour and next index."""
    if i < len(params) and params[i] == 5 and i + 1 < len(params):
        return ("ansi", params[i + 1]), i + 2
    if i < len(params) and params[i] == 2 and i + 3 < len(params):
        return ("rgb", params[i + 1], params[i + 2], params[i + 3]), i + 4
    return None, len(params)


def _apply(attrs: Attrs, text: str) -> None:
    params = [int(p) if p else 0 for p in re.split("[;:]", text)] if text else [0]
    i = 0
    while i < len(params):
        p = params[i]
        i += 1
        if p == 0:
            attrs.__init__()  # type: ignore[misc]
        elif p == 1:
            attrs.bold = True
        elif p == 2:
            attrs.dim = True
        elif p == 22:
            attrs.bold = attrs.dim = False
        elif p == 7:
            attrs.reverse = True
        elif p == 27:
            attrs.reverse = False
        elif 30 <= p <= 37:
            attrs.fg = ("ansi", p - 30)
        elif 90 <= p <= 97:
            attrs.fg = ("ansi", p - 90 + 8)
        elif 40 <= p <= 47:
            attrs.bg = ("ansi", p - 40)
        elif 100 <= p <= 107:
            attrs.bg = ("ansi", p - 100 + 8)
        elif p == 39:
            attrs.fg = None
        elif p == 49:
            attrs.bg = None
        elif p in (38, 48):
            colour, i = _colour(params, i)
            if p == 38:
                attrs.fg = colour
            else:
                attrs.bg = colour


def parse_screen(captured: str) -> list[Cell]:
    """Every non-blank character of a `capture-pane -e -p` capture, with its colours.
    The attributes carry over from line to line, as tmux writes them."""
    attrs = Attrs()
    cells: list[Cell] = []
    for row, line in enumerate(captured.split("\n")):
        col = 0
        pos = 0
        while pos < len(line):
            if line[pos] == "\x1b":
                sgr = SGR.match(line, pos)
                if sgr is not None:
                    _apply(attrs, sgr.group(1))
                    pos = sgr.end()
                    continue
                other = OTHER_ESCAPE.match(line, pos)
                pos = other.end() if other is not None else pos + 1
                continue
            char = line[pos]
            pos += 1
            if not char.isspace():
                cells.append(Cell(row, col, char, attrs.fg, attrs.bg, attrs.dim, attrs.reverse))
            col += 1
    return cells


def _ansi_rgb(index: int, palette: Palette) -> RGB:
    if index < 16:
        return palette.ansi[index]
    if index < 232:
        index -= 16
        steps = (0, 95, 135, 175, 215, 255)
        return steps[index // 36], steps[index // 6 % 6], steps[index % 6]
    grey = 8 + (index - 232) * 10
    return grey, grey, grey


def resolve(colour: Colour, palette: Palette, default: RGB) -> RGB:
    if colour is None:
        return default
    if colour[0] == "ansi":
        return _ansi_rgb(int(colour[1]), palette)  # type: ignore[call-overload]
    return int(colour[1]), int(colour[2]), int(colour[3])  # type: ignore[call-overload]


def luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: RGB, b: RGB) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def cell_contrast(cell: Cell, palette: Palette) -> float:
    fg = resolve(cell.fg, palette, palette.foreground)
    bg = resolve(cell.bg, palette, palette.background)
    if cell.reverse:
        fg, bg = bg, fg
    if cell.dim:  # a faint glyph: drawn halfway between its colour and the background
        fg = tuple((f + b) // 2 for f, b in zip(fg, bg, strict=True))  # type: ignore[assignment]
    return ratio(fg, bg)


def illegible(captured: str, palette: Palette, minimum: float = 3.0) -> list[str]:
    """One line per character below `minimum` contrast on `palette` (the first of each colour
    pair; the rest are counted): where, what, how much."""
    lines = captured.split("\n")
    out = []
    seen: dict[tuple[object, ...], int] = {}
    for cell in parse_screen(captured):
        value = cell_contrast(cell, palette)
        pair = (cell.fg, cell.bg, cell.dim, cell.reverse)
        if value < minimum:
            seen[pair] = seen.get(pair, 0) + 1
            if seen[pair] > 1:
                continue
            text = SGR.sub("", lines[cell.row])
            out.append(
                f"{palette.name} row {cell.row} col {cell.col} {cell.char!r} {value:.2f}:1"
                f" fg={cell.fg} bg={cell.bg} dim={cell.dim} reverse={cell.reverse}"
                f" | {text.strip()[:60]}"
            )
    return out + [f"{palette.name}: {n - 1} more of {pair}" for pair, n in seen.items() if n > 1]
