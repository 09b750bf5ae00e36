# dgc's entry points. `make demo` and `make test` install what is missing (Debian packages, via
# scripts/install-deps.sh), build, and run.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo bench bench-exchange bench-slow-link clean

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: build
	$(BUILD_DIR)/bin/dgc-compress-demo

bench: build
	$(BUILD_DIR)/bin/dgc-bench

# The exchange under mpirun -np 2, over shared memory and over TCP (issue 3).
bench-exchange: build
	./bench/exchange.sh $(BUILD_DIR)/bin

# The same over an emulated 1 Gbit/s link between the two ranks (root: network namespace, tc).
bench-slow-link: build
	./bench/slow_link.sh $(BUILD_DIR)/bin

clean:
	rm -rf $(BUILD_DIR)
