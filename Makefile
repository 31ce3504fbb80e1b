# weir: the two commands are `make demo` and `make test`. Everything else is a convenience.
BUILD    ?= build
JOBS     ?= $(shell nproc)
CMAKE_FLAGS ?=
WEIR     := $(BUILD)/weir
DEMO     := examples/clickstream
DEMO_EVENTS ?= 200000

.PHONY: all deps configure build test demo bench format clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null

configure: deps $(BUILD)/build.ninja

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	@bash scripts/demo.sh $(WEIR) $(DEMO) $(DEMO_EVENTS)

bench: build
	@bash bench/run.sh $(WEIR)

format:
	@find include src tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
