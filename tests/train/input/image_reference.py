"""The references of test_image.cpp, computed by torchvision 0.14 and Pillow themselves.

Usage: image_reference.py COMMAND ARGS...
  eval IMAGE OUT                        Resize(256) + CenterCrop(224) + ToTensor + Normalize
  train IMAGE TOP LEFT H W FLIP OUT     resized_crop(TOP, LEFT, H, W -> 224) [+ hflip] + ToTensor
                                        + Normalize: the train transform with a given crop box
  rgb IMAGE OUT                         Image.open(IMAGE).convert("RGB") as raw bytes
  crop_params CASES OUT                 RandomResizedCrop.get_params on the cases of CASES, its
                                        random numbers replaced by the recorded uniforms
  photos DIR                            skimage's photographs as JPEG quality 90 into DIR
  batch JOBS                            each line of JOBS as a command (one start of Python and
                                        torch, which take seconds, for many references)
Outputs are raw float32 (CHW) or uint8 (HWC) or text; nothing is printed on success.
"""
import math
import sys

import numpy as np
from PIL import Image
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def load(path):
    with open(path, "rb") as f:  # as torchvision's pil_loader
        return Image.open(f).convert("RGB")


def to_output(img, out):
    t = T.Normalize(MEAN, STD)(T.ToTensor()(img))
    t.numpy().astype(np.float32).tofile(out)


class _Draws:
    """Stands in for the torch module inside torchvision.transforms.transforms."""

    def __init__(self, uniforms):
        self.uniforms = list(uniforms)

    def _next(self):
        return self.uniforms.pop(0)

    class _Scalar:
        def __init__(self, v):
            self.v = v

        def item(self):
            return self.v

    def tensor(self, values):
        return list(values)

    def log(self, values):
        return [math.log(v) for v in values]

    def exp(self, scalar):
        return _Draws._Scalar(math.exp(scalar.v))

    def empty(self, *size):
        draws = self

        class _Empty:
            def uniform_(self, a, b):
                return _Draws._Scalar(a + draws._next() * (b - a))

        return _Empty()

    def randint(self, low, high, size):
        return _Draws._Scalar(low + int(math.floor(self._next() * (high - low))))


def crop_params(cases_path, out_path):
    import torchvision.transforms.transforms as TT

    real_torch = TT.torch
    lines = []
    try:
        for line in open(cases_path):
            fields = line.split()
            width, height = int(fields[0]), int(fields[1])
            scale = (float(fields[2]), float(fields[3]))
            ratio = (float(fields[4]), float(fields[5]))
            draws = _Draws(float(u) for u in fields[6:])
            TT.torch = draws
            img = Image.new("RGB", (width, height))
            i, j, h, w = TT.RandomResizedCrop.get_params(img, scale, ratio)
            lines.append(f"{i} {j} {h} {w} {len(draws.uniforms)}")
    finally:
        TT.torch = real_torch
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")


def photos(out_dir):
    import os

    src = "/usr/lib/python3/dist-packages/skimage/data"
    for name in ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"]:
        img = load(os.path.join(src, name))
        img.save(os.path.join(out_dir, name.split(".")[0] + ".JPEG"), quality=90)


def run(cmd, args):
    if cmd == "eval":
        img = T.CenterCrop(224)(T.Resize(256)(load(args[0])))
        to_output(img, args[1])
    elif cmd == "train":
        top, left, h, w, flip = (int(v) for v in args[1:6])
        img = F.resized_crop(load(args[0]), top, left, h, w, [224, 224],
                             T.InterpolationMode.BILINEAR)
        if flip:
            img = F.hflip(img)
        to_output(img, args[6])
    elif cmd == "rgb":
        np.asarray(load(args[0]), dtype=np.uint8).tofile(args[1])
    elif cmd == "crop_params":
        crop_params(args[0], args[1])
    elif cmd == "photos":
        photos(args[0])
    elif cmd == "batch":
        for line in open(args[0]):
            if line.strip():
                fields = line.split()
                run(fields[0], fields[1:])
    else:
        sys.exit(f"unknown command {cmd}")


def main():
    torch.set_num_threads(1)
    run(sys.argv[1], sys.argv[2:])


if __name__ == "__main__":
    main()
