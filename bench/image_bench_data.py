"""Writes the photographs of the image benchmark: skimage's data photos re-encoded by Pillow as
JPEG quality 90 at sizes around ImageNet's typical 500x375, in an ImageFolder tree (one class
per photo) under DIR.

Usage: image_bench_data.py DIR
"""
import os
import sys

from PIL import Image

SRC = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
          "hubble_deep_field.jpg", "retina.jpg", "ihc.png"]
# ImageNet's most common sizes are 500x375 and 500x333 (landscape) and their portraits.
SIZES = [(500, 375), (375, 500), (500, 333), (333, 500), (640, 480), (400, 300)]


def main():
    out = sys.argv[1]
    for k, name in enumerate(p for p in PHOTOS if os.path.exists(os.path.join(SRC, p))):
        img = Image.open(os.path.join(SRC, name)).convert("RGB")
        folder = os.path.join(out, f"class_{k:02d}")
        os.makedirs(folder, exist_ok=True)
        for w, h in SIZES:
            img.resize((w, h), Image.BICUBIC).save(
                os.path.join(folder, f"{name.split('.')[0]}_{w}x{h}.JPEG"), quality=90)


if __name__ == "__main__":
    main()
