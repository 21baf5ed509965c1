# The two set-up commands of the README. Each installs what is missing, configures and builds.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps configure build demo demo-cluster test unit package test-asan test-tsan fuzz clean

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

# Three nodes sharing NATS, PostgreSQL and Mosquitto, with the demo fleet publishing over MQTT
# (docs/deployment.md). Ctrl-C stops everything.
demo-cluster: build
	scripts/demo-cluster

# Runs every unit and integration test.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 600

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

# The .deb (cmake/Packaging.cmake; docs/operations.md, "Packaging"):
# $(BUILD_DIR)/valtronics_<version>_<arch>.deb, its Depends computed from the binary.
package: build
	@cd $(BUILD_DIR) && cpack -G DEB

# The suite under sanitizers (docs/security.md, "Sanitizers and fuzzing"), each build in a
# directory of its own at -O1 -g; tests/sanitizers/run-ctest fails on any sanitizer report, which
# it collects in <dir>/sanitizer-reports. test-asan: every test under AddressSanitizer +
# UndefinedBehaviorSanitizer (the fuzz targets have their own ASan build: make test, make fuzz).
# test-tsan: the tests labelled unit or threads under ThreadSanitizer.
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
SANITIZER_CMAKE = -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVALTRONICS_FUZZ=OFF -DVALTRONICS_UNIT_TEST_SHARDS=4
TSAN_TARGETS = valtronics unit_tests client_api_test valtronics_client_example \
               exception_ptr_release_demo
# Narrows test-asan if it outgrows CI's budget, e.g. ASAN_CTEST_ARGS="-L unit|threads"; empty: all.
ASAN_CTEST_ARGS ?=

test-asan: deps
	@cmake -S . -B $(ASAN_DIR) $(SANITIZER_CMAKE) -DVALTRONICS_SANITIZE=address >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)
	@tests/sanitizers/run-ctest address $(ASAN_DIR) -j 2 --timeout 900 $(ASAN_CTEST_ARGS)

test-tsan: deps
	@cmake -S . -B $(TSAN_DIR) $(SANITIZER_CMAKE) -DVALTRONICS_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_DIR) -j $(JOBS) --target $(TSAN_TARGETS)
	@tests/sanitizers/run-ctest thread $(TSAN_DIR) -L 'unit|threads' -j 2 --timeout 900

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
