# The two set-up commands of the README. Each installs what is missing, configures and builds.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps configure build demo test unit fuzz clean

all: build

deps:
	@bash scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts the server on 127.0.0.1:8000 with a random secret, printed tokens and simulated devices.
demo: build
	./$(BUILD_DIR)/valtronics serve --demo

# Runs every unit and integration test.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 600

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

# Runs each fuzz target (tests/fuzz/, docs/fuzzing.md) for FUZZ_SECONDS on its seed corpus, new
# inputs kept in $(BUILD_DIR)/fuzz/<target>/corpus across runs; fails naming any crashing input.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = $(patsubst tests/fuzz/fuzz_%.cpp,%,$(wildcard tests/fuzz/fuzz_*.cpp))
fuzz: configure
	@cmake --build $(BUILD_DIR) --target fuzzers
	@mkdir -p $(BUILD_DIR)/fuzz; failed=""; for t in $(FUZZ_TARGETS); do \
	  log=$(BUILD_DIR)/fuzz/$$t.log; printf '== fuzz_%s, %s s: ' $$t $(FUZZ_SECONDS); \
	  if tests/fuzz/run-fuzzer $(BUILD_DIR)/tests/fuzz/fuzz_$$t tests/fuzz/corpus/$$t \
	       $(BUILD_DIR)/fuzz/$$t $(FUZZ_SECONDS) >$$log 2>&1; then \
	    grep -E '^#[0-9]+[[:space:]]+DONE' $$log | sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+/\1 runs, /'; \
	  else echo "FOUND A PROBLEM ($$log)"; tail -n 40 $$log; failed="$$failed $$t"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: problems found by:$$failed"; exit 1; fi

clean:
	rm -rf $(BUILD_DIR)
