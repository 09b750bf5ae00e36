# dgc's entry points. `make demo` and `make test` install what is missing (Debian packages, via
# scripts/install-deps.sh), build, and run.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo bench clean

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

clean:
	rm -rf $(BUILD_DIR)
