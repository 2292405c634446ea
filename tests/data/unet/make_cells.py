"""Writes tests/data/unet/cells: 4 grey 40×48 PNG images of bright disks on noise, and their 0/1
label masks (synthetic, seed 5). Run from the checkout: python3 tests/data/unet/make_cells.py"""
from pathlib import Path

import numpy as np
from PIL import Image

root = Path(__file__).resolve().parent / "cells"
(root / "images").mkdir(parents=True, exist_ok=True)
(root / "masks").mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(5)
y, x = np.mgrid[0:40, 0:48]
for i in range(4):
    mask = np.zeros((40, 48), np.uint8)
    for _ in range(3):
        cy, cx, r = rng.integers(6, 34), rng.integers(6, 42), rng.integers(3, 7)
        mask[(y - cy) ** 2 + (x - cx) ** 2 <= r * r] = 1
    image = (40 + 150 * mask + rng.integers(0, 40, mask.shape)).astype(np.uint8)
    Image.fromarray(image).save(root / "images" / f"c{i}.png")
    Image.fromarray(mask).save(root / "masks" / f"c{i}.png")
