# kbsfs front door. Everything real lives in CMake; this file only wires the commands.
#   make demo        install deps, build, run scripts/demo.sh (kbs + kbs-client + kbsfs, then clean up)
#   make check       install deps, configure, build, run every test (unit + integration)
#   make check-asan  the same under ASan+UBSan
#   make fuzz-smoke  each libFuzzer target for a short bounded time on its seed corpus
JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 20
CTEST_ARGS ?=

.PHONY: all deps build demo check check-asan fuzz fuzz-smoke clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DKBS_CONFIG=default

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

$(BUILD_ASAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_ASAN) -DKBS_CONFIG=asan -DCMAKE_BUILD_TYPE=Debug

check-asan: deps $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

$(BUILD_FUZZ)/CMakeCache.txt:
	CC=clang-14 cmake -S . -B $(BUILD_FUZZ) -DKBS_CONFIG=fuzz -DCMAKE_BUILD_TYPE=Debug

fuzz: deps $(BUILD_FUZZ)/CMakeCache.txt
	cmake --build $(BUILD_FUZZ) -j $(JOBS)

fuzz-smoke: fuzz
	./tests/fuzz/run-smoke.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
