"""Make the PWA icons in assets/icons/ from the logo, assets/favicon.ico (run once; the PNGs are committed).

    python scripts/make_icons.py

Needs Pillow (pinned in requirements-dev.txt). "any" icons are the logo on its own square; the
"maskable" ones keep it inside the middle 60 %, the safe zone a phone's launcher never crops.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SIZES = (192, 512)
SAFE_ZONE = 0.6


def logo() -> Image.Image:
    with Image.open(ASSETS / "favicon.ico") as icon:
        largest = max(icon.info.get("sizes", {icon.size}))
        icon.size = largest
        return icon.convert("RGBA")


def main() -> None:
    source = logo()
    background = source.getpixel((0, 0))
    out = ASSETS / "icons"
    out.mkdir(exist_ok=True)
    for size in SIZES:
        source.resize((size, size), Image.Resampling.LANCZOS).save(out / f"icon-{size}.png", optimize=True)
        inner = round(size * SAFE_ZONE)
        maskable = Image.new("RGBA", (size, size), background)
        offset = (size - inner) // 2
        maskable.alpha_composite(source.resize((inner, inner), Image.Resampling.LANCZOS), (offset, offset))
        maskable.save(out / f"maskable-{size}.png", optimize=True)


if __name__ == "__main__":
    main()
