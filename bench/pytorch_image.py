"""The baseline of bench/image_pipeline.sh: torchvision's ImageFolder with ImageNet's train and
eval transforms on PIL images, one thread, as one data-loader worker runs them.

Usage: pytorch_image.py DIR [SECONDS]
Each figure is the best of 3 timed passes of at least SECONDS / 3 (default 6 s per figure)
over the whole folder (ds[i] for every i: open, decode, transform), after one warm-up pass.
Prints one line per figure: NAME IMAGES_PER_SECOND.
"""
import sys
import time

import torch
import torchvision.transforms as T
from torchvision import datasets


def rate(ds, seconds):
    for i in range(len(ds)):
        ds[i]
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        done = 0
        while True:
            for i in range(len(ds)):
                ds[i]
            done += len(ds)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / 3:
                break
        best = max(best, done / elapsed)
    return best


def main():
    torch.set_num_threads(1)
    root = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 6.0
    normalize = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    transforms = {
        "train": T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                            normalize]),
        "eval": T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), normalize]),
    }
    for name, transform in transforms.items():
        print(f"torchvision {name} {rate(datasets.ImageFolder(root, transform), seconds):.1f}",
              flush=True)


if __name__ == "__main__":
    main()
