# Atelier build. `make` builds build/atelier; `make test` runs every test;
# `make run` starts the service on the model that ships; `make asan` runs the
# test suite under AddressSanitizer + UndefinedBehaviorSanitizer; `make image`
# builds the container image without a Docker engine and `make image-test`
# smoke-tests it (docker/, docs/deploy.md); `make fresh-check` runs CI and
# `make run` in a fresh Debian 12 chroot (tools/fresh-check.sh).
#
# Sources are found by wildcard, one library per layer (README.md, Layout):
# engine/*.c the inference engine, engine/train/*.c the trainer over it,
# server/*.c the HTTP service over both, server/cli/*.c the atelier command
# line over all three; tests/<dir>/test_*.c one cmocka program each. Linked
# top layer first, so a call from a lower layer up would not resolve.

CC      ?= gcc
BUILD   ?= build
PKGS    := openblas libturbojpeg libjpeg libpng jansson libmicrohttpd cmocka
OPT     ?= -O2 -march=x86-64-v3 -mtune=native
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Wvla -Wformat=2
ifeq ($(CI),true)
WARN    += -Werror
endif
HARDEN  := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -MMD -MP -I. \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS += -pie -Wl,-z,relro,-z,now -pthread
LDLIBS  += $(shell pkg-config --libs openblas libturbojpeg libjpeg libpng jansson libmicrohttpd 2>/dev/null) -lm
TESTLIBS := $(shell pkg-config --libs cmocka libcurl 2>/dev/null)

ENGINE_SRC := $(wildcard engine/*.c)
TRAIN_SRC  := $(wildcard engine/train/*.c)
SERVER_SRC := $(wildcard server/*.c)
CLI_SRC    := $(filter-out server/cli/main.c,$(wildcard server/cli/*.c))
TEST_SRC   := $(wildcard tests/*/test_*.c)
TEST_LIB_SRC := $(filter-out $(TEST_SRC) tests/fuzz/%,$(wildcard tests/*/*.c))

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
TRAIN_OBJ  := $(TRAIN_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/%.o)
LIBS       := $(BUILD)/libcli.a $(BUILD)/libserver.a $(BUILD)/libtrain.a $(BUILD)/libengine.a
TEST_LIB_OBJ := $(TEST_LIB_SRC:%.c=$(BUILD)/%.o)
TEST_BIN   := $(TEST_SRC:%.c=$(BUILD)/%)

.PHONY: all test run asan clean deps check-deps image image-test studio-shots fresh-check \
        gallery
.SECONDARY:
all: $(BUILD)/atelier

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARDEN) -c $< -o $@

# server/openapi.c embeds the contract with .incbin.
$(BUILD)/server/openapi.o: openapi.yaml

# The studio (web/) is embedded the same way, from a table tools/webgen.sh
# writes with a gzip copy of each file (server/web.h).
WEB_FILES := $(sort $(shell find web -type f))
$(BUILD)/web_assets.c: tools/webgen.sh $(WEB_FILES)
	@mkdir -p $(BUILD)
	sh tools/webgen.sh $(BUILD) $(WEB_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/web_assets.o: $(BUILD)/web_assets.c
	$(CC) $(CFLAGS) $(HARDEN) -c $< -o $@

$(BUILD)/libengine.a: $(ENGINE_OBJ)
	@mkdir -p $(dir $@); rm -f $@
	ar rcs $@ $^

$(BUILD)/libtrain.a: $(TRAIN_OBJ)
	@mkdir -p $(dir $@); rm -f $@
	ar rcs $@ $^

$(BUILD)/libcli.a: $(CLI_OBJ)
	@mkdir -p $(dir $@); rm -f $@
	ar rcs $@ $^

$(BUILD)/libserver.a: $(SERVER_OBJ) $(BUILD)/web_assets.o
	@mkdir -p $(dir $@); rm -f $@
	ar rcs $@ $^

$(BUILD)/atelier: $(BUILD)/server/cli/main.o $(LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_LIB_OBJ) $(LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) $(TESTLIBS) -o $@

# The soak client (tools/soak/run.sh runs it against a server).
$(BUILD)/soak: $(BUILD)/tools/soak/soak.o $(BUILD)/libengine.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) $(TESTLIBS) -o $@

# The tests need the binary too: HTTP and CLI tests run the real atelier,
# the browser tests (tests/web/run.sh: Chromium, Node, playwright-core) too.
WEB_TESTS ?= tests/web/run.sh
test: check-deps $(BUILD)/atelier $(TEST_BIN)
	@BUILD=$(BUILD) tests/run.sh $(TEST_BIN) $(WEB_TESTS)

# The browser tests run once, in `make test`; their server code is covered
# here by the HTTP tests. The sanitizer build also checks the invariants the
# code states (UTIL_ASSERT, engine/util.h).
asan:
	$(MAKE) BUILD=build-asan WEB_TESTS= OPT="-O1 -fno-omit-frame-pointer -DATELIER_ASSERTS" \
	  HARDEN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" test

run: check-deps $(BUILD)/atelier
	$(BUILD)/atelier serve --models models

# Installs the Debian packages the build and tests need (root or sudo), or
# says exactly what to install.
deps:
	@tools/install-deps.sh

check-deps:
	@pkg-config --exists $(PKGS) libcurl || tools/install-deps.sh

# The image from docker/Dockerfile, built with buildah from a debootstrapped
# Debian base (cached in build-image/, which `clean` keeps).
image:
	docker/build-local.sh

image-test: image
	docker/smoke-test.sh

# A fresh Debian 12 (debootstrap, cached in build-fresh/, which `clean`
# keeps) with make, git and ca-certificates only: CI on a clone of HEAD, then
# `make run` and one POST /stylize. Downloads packages; not part of CI.
fresh-check:
	tools/fresh-check.sh

clean:
	rm -rf build build-asan build-fuzz

# docs/gallery.jpg: the held-out photos through every model in $(MODELS)
# (default models/) and two ml5 generators (tools/gallery.py); Debian's
# python3 with numpy and PIL. Make it after the models change, look, commit.
MODELS ?= models
gallery: $(BUILD)/atelier
	/usr/bin/python3 tools/gallery.py --atelier $(BUILD)/atelier --models $(MODELS) \
	  --out docs/gallery.jpg

# Screenshots of each view, desktop and phone width, into docs/studio/
# (the browser tests take them when ATELIER_SHOTS=1).
studio-shots: $(BUILD)/atelier
	ATELIER_SHOTS=1 BUILD=$(BUILD) tests/web/run.sh

# Fuzzing (tests/fuzz/README.md). `make fuzz` builds the libFuzzer targets
# with clang, ASan and UBSan in build-fuzz/ and runs each for FUZZ_SECONDS;
# `make fuzz-smoke` runs each for 20 s; `make fuzz-replay` replays the
# committed corpus and regression inputs in this build (any BUILD).
FUZZ_SECONDS ?= 60
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB   := $(BUILD)/tests/fuzz/common.o $(BUILD)/libserver.a $(BUILD)/libtrain.a \
              $(BUILD)/libengine.a
.PHONY: fuzz fuzz-smoke fuzz-build fuzz-replay

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/replay/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# CI= : -Werror is for the gcc build; clang warns about other things.
fuzz-build:
	$(MAKE) CI= CC=clang BUILD=build-fuzz OPT="-O1 -fno-omit-frame-pointer" \
	  HARDEN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	  LDFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer" $(FUZZ_NAMES:%=build-fuzz/fuzz/%)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

FUZZ_SMOKE_SECONDS ?= 20
fuzz-smoke: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_NAMES)

fuzz-replay: $(FUZZ_NAMES:%=$(BUILD)/replay/%)
	@for t in $(FUZZ_NAMES); do \
	  $(BUILD)/replay/$$t tests/fuzz/corpus/$$t tests/fuzz/regress/$$t || exit 1; done

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
