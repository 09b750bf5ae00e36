#!/usr/bin/env python3
"""The PyTorch baseline of bench/train_step.sh and bench/imagenet_step.sh: one training step
(forward, cross-entropy, backward, SGD with momentum 0.9 and weight decay 1e-4) from Python, with
Debian's python3-torch (the same libtorch 1.13 as dgc-train). The models are the ones of
apps/train/models, layer for layer:
  resnet20, fmnist_convnet: ResNet-20 with option-A shortcuts and the Fashion-MNIST convnet,
    defined here; batch 128 on 1x28x28 inputs, 10 classes.
  resnet18, resnet50, vgg16_bn: torchvision's own (python3-torchvision 0.14); batch 32 on
    3x224x224 inputs, 1000 classes.

Usage: pytorch_step.py MODEL THREADS STEPS [WARMUP]
Prints the median step time in ms over STEPS steps after WARMUP (default 5) warm-up steps."""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.cout = stride, cout
        self.reshapes = stride != 1 or cin != cout

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.reshapes:  # option A: subsample, append zero channels
            sub = x[:, :, ::self.stride, ::self.stride]
            out = out + F.pad(sub, (0, 0, 0, 0, 0, self.cout - x.size(1)))
        else:
            out = out + x
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth=20, in_channels=1, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                stages.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*stages)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        out = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(out.mean((2, 3)))


class FmnistConvNet(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 7 * 7, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(0.4)

    def forward(self, x):
        out = F.max_pool2d(F.relu(self.conv1(x)), 2)
        out = F.max_pool2d(F.relu(self.conv2(out)), 2)
        out = F.relu(self.fc1(out.flatten(1)))
        return self.fc2(self.dropout(out))


IMAGENET_MODELS = ("resnet18", "resnet50", "vgg16_bn")


def make(name):
    """The model, a batch of inputs and its labels."""
    if name in IMAGENET_MODELS:
        import torchvision  # only these need it

        model = getattr(torchvision.models, name)()  # random init, 1000 classes
        return model, torch.randn(32, 3, 224, 224), torch.randint(0, 1000, (32,))
    model = {"resnet20": CifarResNet, "fmnist_convnet": FmnistConvNet}[name]()
    return model, torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))


def main():
    name, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, x, y = make(name)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    print(f"{statistics.median(times) * 1000:.1f}")


if __name__ == "__main__":
    main()
