"""More training images for the quality tier: the photographs among Debian's desktop wallpapers.

    python benchmarks/photo_data.py        # → runs/data/t91_bsd200_photos (a DIV2K-layout root)

This machine reaches package registries only, and DIV2K is not on one; Debian's wallpaper
packages hold a few dozen real photographs of 2–6 megapixels (landscapes, plants, textures), the
kind of content DIV2K has and T91/BSD200 lack. They are fetched with `apt-get download` into
runs/ (never committed), each halved by Pillow's box filter (a wallpaper is a JPEG: halving
averages its block noise away; DIV2K too was made from larger originals) and cut into 480×480
tiles: the trainer draws one patch per
image per pass, so a photograph as one file would weigh no more than one of T91's small ones.
Tiles of bokeh or sky with almost no detail are dropped.

The root validates on exactly the images t91_bsd200 validates on (its DIV2K_valid_HR links to
them), so a run's val_psnr compares with the runs trained on t91_bsd200 alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from common import ROOT, link_into, training_folder
from PIL import Image

from espcn_edge.dataset import find_pairs

PACKAGES = ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04", "mate-backgrounds",
            "plasma-workspace-wallpapers")  # fmt: skip
# the photographs (not drawings, renders or logos) among their images, by file or folder name
PHOTOS = (
    "Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
    "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi",
    "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi", "life_by_Aitzol_Berasategi",
    "picosdeeuropa_by_Aitzol_Berasategi", "seeding_by_Clements_Engelhardt",
    "sunset_by_Aitzol_Berasategi", "Kleiber_by_Lukas_Baubkus", "Aqua", "Blinds", "Dune",
    "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm", "TwoWings", "Wood",
    "YellowFlower", "BytheWater", "ColdRipple", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
    "Kite", "OneStandsOut", "Path", "Volna", "summer_1am",
)  # fmt: skip
TILE = 480
MIN_DETAIL = 3.0  # mean |horizontal + vertical difference| of a tile's grey values, 0–255


def fetch(folder: Path) -> list[Path]:
    """The packages' files, extracted under `folder` (downloaded once)."""
    debs = folder / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob("*.deb")):
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    tree = folder / "tree"
    if not tree.is_dir():
        for deb in debs.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    return [p for p in tree.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")]


def photographs(files: list[Path]) -> dict[str, Path]:
    """Each named photograph's largest file (Plasma ships one file per screen size)."""
    found: dict[str, tuple[int, Path]] = {}  # name → (pixels, file)
    for path in files:
        name = path.parents[2].name if path.parent.name == "images" else path.stem
        if name in PHOTOS:
            with Image.open(path) as image:
                pixels = image.width * image.height
            if pixels > found.get(name, (0, path))[0]:
                found[name] = (pixels, path)
    missing = sorted(set(PHOTOS) - set(found))
    if missing:
        raise SystemExit(f"photo_data: not in the packages: {', '.join(missing)}")
    return {name: path for name, (_, path) in found.items()}


def tiles(path: Path) -> list[Image.Image]:
    """The photograph halved by a box filter, cut into the tiles that have detail."""
    image = Image.open(path).convert("RGB").reduce(2)
    kept = []
    for top in range(0, image.height - TILE + 1, TILE):
        for left in range(0, image.width - TILE + 1, TILE):
            tile = image.crop((left, top, left + TILE, top + TILE))
            grey = np.asarray(tile.convert("L"), dtype=np.float32)
            detail = np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()
            if detail >= MIN_DETAIL:
                kept.append(tile)
    return kept


def main() -> int:
    base = training_folder()
    root = ROOT / "runs" / "data" / "t91_bsd200_photos"
    made = root / "photo_tiles"
    if not made.is_dir():
        found = photographs(fetch(ROOT / "runs" / "data" / "wallpapers"))
        part = made.with_name("photo_tiles.part")
        part.mkdir(parents=True, exist_ok=True)
        for name, path in sorted(found.items()):
            for i, tile in enumerate(tiles(path)):
                tile.save(part / f"zz_{name}_{i:02d}.png")
        part.rename(made)
    valid = [p.hr for p in find_pairs(base, 3, "valid")]
    train = [p.hr for p in find_pairs(base, 3, "train")]
    link_into(train + sorted(made.iterdir()), root / "DIV2K_train_HR")
    link_into(valid, root / "DIV2K_valid_HR")
    pixels = sum(np.prod(Image.open(p).size) for p in made.iterdir()) / 1e6
    print(f"{root}: {len(train)} T91/BSD200 + {len(list(made.iterdir()))} photo tiles "
          f"({pixels:.0f} MP) to train on, {len(valid)} to validate on")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
