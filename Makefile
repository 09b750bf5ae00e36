# dgc's entry points. `make demo` and `make test` install what is missing (Debian packages, via
# scripts/install-deps.sh), build, and run.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo compress-demo bench bench-exchange bench-slow-link \
	bench-cluster bench-traffic bench-train-step bench-imagenet-step bench-image bench-image-scan bench-imagenet-loader \
	acceptance clean

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# A short DGC training at np 2 on Fashion-MNIST; it prints the accuracy and the traffic saved.
# As root, Open MPI wants --allow-run-as-root.
MPIRUN_FLAGS ?= --oversubscribe $(if $(filter 0,$(shell id -u)),--allow-run-as-root)
demo: build
	rm -rf runs/demo
	OMP_NUM_THREADS=1 mpirun $(MPIRUN_FLAGS) -np 2 $(BUILD_DIR)/bin/dgc-train \
	  --configs configs/fmnist/demo.yaml

# The compressor alone on ResNet-50's shapes: plans and achieved ratios.
compress-demo: build
	$(BUILD_DIR)/bin/dgc-compress-demo

bench: build
	$(BUILD_DIR)/bin/dgc-bench

# The exchange under mpirun -np 2, over shared memory and over TCP (issue 3).
bench-exchange: build
	./bench/exchange.sh $(BUILD_DIR)/bin

# Bytes per rank per step of every exchange at np 2, 4, 8, 16 (issue 14; ~12 GB at np 16).
bench-traffic: build
	./bench/traffic.sh $(BUILD_DIR)/bin

# The same over an emulated 1 Gbit/s link between the two ranks (root: network namespace, tc).
bench-slow-link: build
	./bench/slow_link.sh $(BUILD_DIR)/bin

# What the emulated links carry without MPI, then dgc-train over an emulated cluster of hosts at
# 10 Mbit/s to "10 Gbit/s" (root; about 2 h here), then the scaling model fitted to it
# (docs/PERFORMANCE.md, "Training over the emulated cluster"). Run it again into the same
# directory for repeats: dgc-scaling takes each point's median.
bench-cluster: build
	./bench/cluster/link_check.sh
	./bench/cluster/e2e.sh --bin $(BUILD_DIR)/bin --out runs/e2e --model convnet --slow-steps 12
	./bench/cluster/e2e.sh --bin $(BUILD_DIR)/bin --out runs/e2e --model resnet20 --steps 12 --slow-steps 12
	./scripts/dgc-scaling runs/e2e/steps.csv --out-dir runs/e2e/model --alpha-us 3.3 --cap-gbit 2.5 \
	    --accuracy docs/results/accuracy_per_epoch.csv --targets convnet=88,resnet20=90

# One training step of dgc-train against the same step in PyTorch (installs python3-torch).
bench-train-step: build
	./bench/train_step.sh $(BUILD_DIR)/bin

# The same for torchvision's ResNet-18, ResNet-50 and VGG-16-BN at batch 32, 3x224x224
# (installs python3-torchvision; minutes on a small machine).
bench-imagenet-step: build
	./bench/imagenet_step.sh $(BUILD_DIR)/bin

# Listing a 100,000-file ImageFolder tree against torchvision's ImageFolder (installs it).
bench-image-scan: build
	./bench/image_folder_scan.sh $(BUILD_DIR)/bin

# The ImageNet image transform on one core against torchvision + PIL (installs python3-torchvision,
# python3-pil and python3-skimage).
bench-image: build
	./bench/image_pipeline.sh $(BUILD_DIR)/bin

# ResNet-50's step on JPEGs decoded by the loader against already-decoded tensors (np 1).
bench-imagenet-loader: build
	./bench/imagenet_loader.sh $(BUILD_DIR)/bin

# The runs of docs/RESULTS.md: Fashion-MNIST at np 4, dense against DGC (about 3 hours here).
acceptance: build
	./scripts/acceptance.sh $(BUILD_DIR)/bin

clean:
	rm -rf $(BUILD_DIR)
