# The two quick-start commands: `make run` and `make test`. Everything else is optional.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# Seconds per libFuzzer target in `make fuzz`, and in `make test` (test-fuzz).
FUZZ_SECONDS ?= 30
FUZZ_TEST_SECONDS ?= 5
CMAKE_FLAGS ?=
# Warnings are errors in our builds (make and CI), not in a user's plain cmake build.
WERROR_FLAGS := -DBALLAST_WERROR=ON
# One unit test binary per folder of tests under tests/unit (nested ones too: kube/model → unit_kube_model).
UNIT_TARGETS := $(sort $(subst /,_,$(patsubst tests/unit/%/,unit_%,$(dir $(wildcard tests/unit/*/*_test.cc tests/unit/*/*/*_test.cc)))))
# ccache (when installed) shares objects between checkouts at different paths.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: run test deps configure build ballast test-unit-asan test-fuzz test-e2e bench fuzz fuzz-build image clean

deps:
	scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(WERROR_FLAGS) $(CMAKE_FLAGS) >/dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The ballast executable alone: no tests, no benchmarks.
ballast: configure
	cmake --build $(BUILD) -j $(JOBS) --target ballast

run: ballast
	$(BUILD)/src/app/ballast demo

# Every test: unit + integration (real loopback servers) on the normal build, the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer, every fuzz target for a
# few seconds, then the e2e suite on the real control plane (its binaries are built once
# into ~/.cache/ballast, see README).
test: build
	scripts/check-manifests.sh
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) test-unit-asan
	$(MAKE) test-fuzz
	$(MAKE) test-e2e

test-e2e: build
	BUILD=$(BUILD) scripts/e2e.sh

test-unit-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBALLAST_SANITIZE=ON $(WERROR_FLAGS) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target $(UNIT_TARGETS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

bench: build
	scripts/install-deps.sh bench
	cmake --build $(BUILD) --target benchmarks -j $(JOBS)

# Every parser of untrusted input under libFuzzer (clang, ASan + UBSan), FUZZ_SECONDS each,
# from the seed corpus in fuzz/corpus/ (fuzz/README.md). `make test` runs the same for
# FUZZ_TEST_SECONDS each (test-fuzz): a crash, leak or timeout fails it.
fuzz: fuzz-build
	FUZZ_BUILD=$(abspath $(FUZZ_BUILD)) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

test-fuzz: fuzz-build
	FUZZ_BUILD=$(abspath $(FUZZ_BUILD)) FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) fuzz/run.sh

# Only the fuzz targets and the libraries they link (ccache shares the clang objects).
fuzz-build:
	scripts/install-deps.sh fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DBALLAST_FUZZ=ON -DBALLAST_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets

image:
	scripts/image.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
