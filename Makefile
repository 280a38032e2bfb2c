# tucai -- top-level build.  `make` builds everything, `make run` starts the
# demo on 127.0.0.1:8080, `make test` runs the whole suite.  Components add
# their own rules in mk/*.mk; sources are picked up by wildcard.

.DEFAULT_GOAL := all
SHELL := /bin/bash

B        := build
CC       ?= cc
PKGS     := vips gmodule-2.0 jansson libcurl openssl libmariadb inih libargon2 libzip libqrencode zbar
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm
WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
# worker/ is one folder per layer (worker/README.md); headers are found by
# name, so a file's includes don't change when it moves between layers.
WORKER_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard worker/*/*.c worker/*/*.h))))
WORKER_INC  := $(addprefix -I,$(WORKER_DIRS))
TCFLAGS   = $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iworker $(WORKER_INC) -I$(B) $(PKG_CFLAGS)
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# The photo pipeline is pure: photo_*.c plus the generated cascade tables.
PHOTO_SRC  := $(sort $(wildcard worker/photo/*.c))
# Programs' mains sit at the top of worker/; every layer below is the
# pool's library.
MAIN_SRC   := worker/main.c worker/ops.c worker/tucai_check.c
POOL_SRC   := $(sort $(filter-out $(PHOTO_SRC),$(wildcard worker/*/*.c)))
GEN_SRC    := $(B)/cascades.c $(B)/photo/hog_face.c
# The one C++ file (dlib's HOG face detector, photo_hog.cpp): its headers
# are heavy, so it is compiled once (-O2) and the same object goes into
# every build, the ASan and fuzz ones included (ASan still checks the
# memcpy it makes of our buffers through its interceptor).
PHOTO_CXX_OBJ := $(B)/obj/photo/photo_hog.o
PHOTO_CXXLIBS := -llapack -lstdc++
HDRS       := $(wildcard include/*.h include/*.def worker/*.h worker/*/*.h)

ALL := $(B)/tucai-worker $(B)/tucai-check
TEST_PREP :=

-include mk/*.mk

all: $(ALL)

deps:
	@sh tools/deps.sh

$(B)/obj/%.o: worker/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(TCFLAGS) -c $< -o $@
$(B)/obj/%.o: $(B)/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(TCFLAGS) -c $< -o $@
$(PHOTO_CXX_OBJ): worker/photo/photo_hog.cpp worker/photo/photo_hog.h
	@mkdir -p $(@D)
	$(CXX) $(CFLAGS) $(WARN) -std=gnu++17 -Iworker/photo -c $< -o $@
$(B)/asan/%.o: worker/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(TCFLAGS) $(SAN) -c $< -o $@
$(B)/asan/%.o: $(B)/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(TCFLAGS) $(SAN) -c $< -o $@

objs = $(patsubst worker/%.c,$(1)/%.o,$(patsubst $(B)/%.c,$(1)/%.o,$(2)))

$(B)/tucai-worker: $(call objs,$(B)/obj,worker/main.c worker/ops.c $(POOL_SRC) $(PHOTO_SRC) $(GEN_SRC)) $(PHOTO_CXX_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(PHOTO_CXXLIBS)
$(B)/tucai-check: $(call objs,$(B)/obj,worker/tucai_check.c $(PHOTO_SRC) $(GEN_SRC)) $(PHOTO_CXX_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(PHOTO_CXXLIBS)
$(B)/asan/tucai-worker: $(call objs,$(B)/asan,worker/main.c worker/ops.c $(POOL_SRC) $(PHOTO_SRC) $(GEN_SRC)) $(PHOTO_CXX_OBJ)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(PKG_LIBS) $(PHOTO_CXXLIBS)
$(B)/asan/tucai-check: $(call objs,$(B)/asan,worker/tucai_check.c $(PHOTO_SRC) $(GEN_SRC)) $(PHOTO_CXX_OBJ)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(PKG_LIBS) $(PHOTO_CXXLIBS)

asan: $(B)/asan/tucai-worker $(B)/asan/tucai-check

# nginx's workers (nobody, when root starts nginx) serve www/ from this
# checkout, so its directory must let others through (mktemp -d makes 0700).
# The suite: prove over t/, with the sanitizer builds present so the
# harness can run one instance under ASan/UBSan.
test: deps
	chmod go+x .
	$(MAKE) all asan $(TEST_PREP)
	prove -r -I t/lib t/

run: deps
	chmod go+x .
	$(MAKE) all www
	bash tools/run.sh

bench: deps
	$(MAKE) all
	bash bench/run.sh

clean:
	rm -rf $(B)

.PHONY: all deps asan test run bench clean
