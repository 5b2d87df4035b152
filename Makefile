# ddpg_cuda - GPU build by default; CPU=1, or no nvcc found, builds the CPU-only binary.
#
#   make            ./ddpg_cuda (+ CUDA backend when nvcc is there)
#   make CPU=1      CPU-only build
#   make run        set-up, build, train Pendulum into runs/<date>-<time>-pendulum-s42
#                   (RUN_DIR=DIR for another directory, RUN_ARGS for options)
#   make test       set-up, build, Check suites + report tests
#   make bench      benchmarks (bench/), recorded in BENCH_OUT (default build/bench-results)
#   make examples   build/libddpg_policy.a (policy.h) and the programs in examples/
#   make fuzz       the checkpoint loader and the option parsers under libFuzzer (clang),
#                   FUZZ_SECONDS each
#   make test-asan  the Check suites built with AddressSanitizer and UBSan (CPU=1, build-asan/)
#   make install PREFIX=/usr/local   the binary, report.py, checkpoint.py, the policy library
#   make STATIC=1   link OpenBLAS, Check and the CUDA runtime statically
#                   (a binary that runs on the GPU machine, which has no OpenBLAS/Check)
#
# CFLAGS, NVFLAGS and LDFLAGS are yours: the Makefile adds what the build needs to them
# (CFLAGS defaults to the optimisation flags below).

CC      ?= gcc
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCC_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
BUILD   ?= build
comma   := ,

CFLAGS  ?= -O3 -march=x86-64-v3 -mtune=native -fno-math-errno
NVFLAGS ?= -O3
LDFLAGS ?=
PREFIX  ?= /usr/local

OPENBLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
OPENBLAS_LIBDIR := $(shell pkg-config --variable=libdir openblas 2>/dev/null)
# -ffp-contract=off: a * b + c rounds twice, as Gymnasium's NumPy does (ISO C's default;
# stated, so that no mode or host pass fuses it: include/ddpg/envs/mountain_car.h)
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE -ffp-contract=off -Wall -Wextra -Wno-unused-parameter \
              -Iinclude -MMD -MP $(OPENBLAS_CFLAGS) $(CFLAGS)
ALL_NVFLAGS = -std=c++17 $(NVCC_ARCH) -Xcompiler -Wall,-Wextra,-ffp-contract=off -Iinclude \
              -MMD -MP $(NVFLAGS)
# The environments' kernels without contraction as well: -Xcompiler reaches only the host
# compiler, and nvcc fuses a * b + c into one fma by default (-fmad=true). make
# test-env-ptx checks their PTX (tests/check_env_ptx.sh).
$(BUILD)/kernels/env.o test-env-ptx: ALL_NVFLAGS += -fmad=false

ifeq ($(STATIC),1)
  BLAS_LIBS  := $(firstword $(wildcard $(OPENBLAS_LIBDIR)/libopenblas.a /usr/lib/x86_64-linux-gnu/libopenblas.a)) -lpthread -lgfortran
  CHECK_LIBS := -Wl,-Bstatic -lcheck -lsubunit -Wl,-Bdynamic -lrt
  JSON_LIBS  := -Wl,-Bstatic -ljansson -Wl,-Bdynamic
  # cuBLAS and cuRAND ship no static libraries with this toolkit; the GPU machine has them
  CUDA_LIBS  := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcublasLt -lcurand -lcudart_static -ldl -lrt -lpthread -lstdc++
else
  BLAS_LIBS  := $(if $(OPENBLAS_LIBDIR),-L$(OPENBLAS_LIBDIR) -Wl$(comma)-rpath$(comma)$(OPENBLAS_LIBDIR)) -lopenblas
  CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt)
  JSON_LIBS  := -ljansson
  CUDA_LIBS  := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcublasLt -lcurand -lcudart -lstdc++
endif
LIBS := $(BLAS_LIBS) $(JSON_LIBS) -lm -lpthread

ifeq ($(CPU),1)
  WITH_CUDA := 0
  WHY := CPU=1
else ifeq ($(NVCC),)
  WITH_CUDA := 0
  WHY := no nvcc found
else
  WITH_CUDA := 1
endif

# every .c in the folders of src/ (the CPU backend, src/backend/cpu/, among them) but the stub
CORE_SRCS := $(filter-out src/backend/cuda_stub.c,$(sort $(wildcard src/*/*.c src/*/*/*.c)))
CU_SRCS   := $(wildcard kernels/*.cu)
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)

ifeq ($(WITH_CUDA),1)
  BACKEND_OBJS := $(CU_SRCS:%.cu=$(BUILD)/%.o)
  LIBS += $(CUDA_LIBS)
  BANNER := "✓ building with the CUDA backend ($(NVCC))"
else
  BACKEND_OBJS := $(BUILD)/src/backend/cuda_stub.o
  BANNER := "✗ CUDA backend not built ($(WHY)): CPU-only binary"
endif
# The build flavour is remembered so that switching CPU=1 on/off relinks.
FLAVOUR := $(BUILD)/.flavour-$(WITH_CUDA)$(STATIC)

TEST_SRCS := $(sort $(wildcard tests/test_*.c tests/gpu/*.c)) tests/helpers.c
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
# make bench: every program in bench/ (and the notebook's update in PyTorch), each one's
# log, the suite's CSV, summary.md, plot and JSON line in BENCH_OUT (bench/run_suite.sh);
# BENCH_OUT=bench/results/bench_<date> records a run
BENCH_PY   := bench/pytorch_update.py
BENCH_OUT  ?= $(BUILD)/bench-results

# The embeddable policy (include/ddpg/policy.h): plain C, no CUDA, OpenBLAS or Check.
POLICY_LIB  := $(BUILD)/libddpg_policy.a
POLICY_OBJS := $(addprefix $(BUILD)/src/,run/policy.o run/ckpt_file.o agent/mlp.o backend/tensor.o)
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

# libFuzzer targets (clang), each run for FUZZ_SECONDS from its corpus in tests/fuzz/
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -std=c11 -D_GNU_SOURCE -Iinclude

.PHONY: all setup run test test-all test-c test-env-ptx test-report test-browser bench clean \
        banner fixtures examples fuzz test-asan install test-bundle

all: banner ddpg_cuda $(POLICY_LIB)

banner:
	@echo $(BANNER)

$(FLAVOUR):
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/.flavour-*
	@touch $@

# The program: ./ddpg_cuda for the default build folder, else inside its build folder.
BIN := $(if $(filter build,$(BUILD)),ddpg_cuda,$(BUILD)/ddpg_cuda)

ifneq ($(BIN),ddpg_cuda)
.PHONY: ddpg_cuda
ddpg_cuda: $(BIN)
endif

$(BIN): $(BUILD)/src/main.o $(CORE_OBJS) $(BACKEND_OBJS) $(FLAVOUR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS)
ifneq ($(BIN),ddpg_cuda)
	@# a program in a build folder finds scripts/report.py beside it, as ./ddpg_cuda does
	ln -sfn $(abspath scripts) $(BUILD)/scripts
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(ALL_NVFLAGS) -c $< -o $@

$(BUILD)/run_tests: $(TEST_OBJS) $(CORE_OBJS) $(BACKEND_OBJS) $(FLAVOUR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(CHECK_LIBS) $(LIBS)

$(POLICY_LIB): $(POLICY_OBJS)
	ar rcs $@ $^

$(BUILD)/examples/%: examples/%.c $(POLICY_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(POLICY_LIB) -lm

examples: $(EXAMPLE_BINS)

CONFIG_SRCS := $(wildcard src/config/*.c) src/envs/registry.c

$(BUILD)/fuzz/fuzz_checkpoint: tests/fuzz/fuzz_checkpoint.c src/run/ckpt_file.c $(CONFIG_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(JSON_LIBS) -lm

$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(CONFIG_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(JSON_LIBS) -lm

# Each target from a fresh copy of its corpus (which takes what the run finds);
# crashing inputs land in $(BUILD)/fuzz/ (commit them under tests/fuzz/regressions/).
FUZZ_TARGETS := checkpoint config
fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	    rm -rf $(BUILD)/fuzz/$$t && cp -r tests/fuzz/$$t $(BUILD)/fuzz/$$t && \
	    echo "== fuzz_$$t, $(FUZZ_SECONDS) s" && \
	    { $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=$(BUILD)/fuzz/$$t- $(BUILD)/fuzz/$$t > $(BUILD)/fuzz/$$t.log 2>&1; \
	      rc=$$?; grep -E "^Done|ERROR|SUMMARY|Test unit written" $(BUILD)/fuzz/$$t.log; \
	      test $$rc -eq 0 || { echo "fuzz_$$t failed: see $(BUILD)/fuzz/$$t.log"; exit 1; }; }; \
	done

$(BUILD)/bench/%: bench/%.c $(CORE_OBJS) $(BACKEND_OBJS) $(FLAVOUR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(LIBS)

# The README's two commands: each installs what it needs first (scripts/setup.sh),
# then builds in a second make, so that pkg-config sees the fresh packages.
RUN_DIR ?=
RUN_ARGS ?=
setup:
	@scripts/setup.sh

run: setup
	@$(MAKE) --no-print-directory all
	./ddpg_cuda $(if $(RUN_DIR),--out $(RUN_DIR)) $(RUN_ARGS)

test: setup
	@$(MAKE) --no-print-directory test-all

# Check suites (C), the environments' PTX, then the report tests (Python), then the
# browser test; then the GPU bundle's test, after them: it links the programs in $(BUILD)
# again, statically.
test-all: banner test-c test-env-ptx test-report test-browser
	@$(if $(filter 1,$(WITH_CUDA)),$(MAKE) --no-print-directory test-bundle,echo "gpu bundle test skipped: $(WHY)")

# scripts/gpu_bundle.sh's bundle, unpacked into an empty folder, runs scripts/gpu_check.sh
# (its dry run, no GPU needed)
test-bundle:
	BUILD=$(BUILD) tests/gpu_bundle_test.sh

# The tests run the program at $(BIN) and the examples in $(BUILD)/examples.
test-c: $(BUILD)/run_tests $(BIN) examples
	DDPG_BIN=$(abspath $(BIN)) DDPG_BUILD=$(BUILD) $(BUILD)/run_tests

# kernels/env.cu compiled to PTX with env.o's flags: no contracted multiply-add in it (one
# SKIP line without nvcc, which CPU=1 does not need)
test-env-ptx:
	@tests/check_env_ptx.sh "$(NVCC)" $(ALL_NVFLAGS)

# Every Check suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its own
# build folder (CPU-only: the CUDA runtime and ASan do not mix).
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
test-asan:
	@$(MAKE) --no-print-directory CPU=1 BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" \
	    LDFLAGS="-fsanitize=address,undefined" test-c

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/ddpg_cuda \
	    $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/ddpg
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/ddpg_cuda
	install -m 644 scripts/report.py scripts/checkpoint.py $(DESTDIR)$(PREFIX)/share/ddpg_cuda/
	install -m 644 $(POLICY_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/ddpg/policy.h $(DESTDIR)$(PREFIX)/include/ddpg/

test-report: $(BIN)
	python3 -m unittest discover -s tests/report -v
	python3 -m unittest discover -s tests/python -v

test-browser:
	tests/report/browser_test.sh

bench: banner $(BENCH_BINS) ddpg_cuda
	@BENCH_COMMAND="make bench $(MAKEOVERRIDES)" bench/run_suite.sh $(BENCH_OUT) $(BENCH_BINS) $(BENCH_PY)

fixtures:
	python3 scripts/gen_pendulum_fixtures.py tests/fixtures/pendulum.csv
	python3 scripts/gen_mountain_car_fixtures.py tests/fixtures/mountain_car.csv

clean:
	rm -rf $(BUILD) ddpg_cuda

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
