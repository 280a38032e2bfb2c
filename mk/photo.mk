# mk/photo.mk -- the photo pipeline's extra rules: cascade tables generated
# from Debian's opencv-data, test data, `make eval`, fuzzers.

CASCADE_DIR  ?= /usr/share/opencv4/haarcascades
CASCADE_FACE ?= $(CASCADE_DIR)/haarcascade_frontalface_alt2.xml
CASCADE_EYE  ?= $(CASCADE_DIR)/haarcascade_eye.xml

$(B)/cascades.c: tools/cascade2c.py $(CASCADE_FACE) $(CASCADE_EYE)
	@mkdir -p $(B)
	/usr/bin/python3 tools/cascade2c.py $@ face=$(CASCADE_FACE) eye=$(CASCADE_EYE)

# dlib's HOG face detector (libdlib-dev) as a plain table: a build-time
# tool, compiled -O0 (it runs once; its headers are what costs).
$(B)/hog2c: tools/hog2c.cpp
	@mkdir -p $(B)
	$(CXX) -O0 $(WARN) -std=gnu++17 -o $@ $< $(shell pkg-config --libs dlib-1)
$(B)/photo/hog_face.c: $(B)/hog2c
	@mkdir -p $(@D)
	$(B)/hog2c $@.tmp && mv $@.tmp $@

# Real photos from Debian packages plus generated variants (idempotent).
$(B)/testdata/.done: tools/testdata.sh tools/testdata_gen.py tools/testdata_booth.py eval/faces_more.json
	bash tools/testdata.sh $(B)/testdata
testdata: $(B)/testdata/.done
TEST_PREP += testdata fuzz-build

eval: $(B)/tucai-check testdata
	/usr/bin/python3 eval/photo_eval.py $(B)/tucai-check $(B)/testdata

# Fuzzers: every fuzz/<name>.c (named *_fuzz.c) becomes $(B)/fuzz/<name>,
# built with clang -fsanitize=fuzzer,address,undefined from that file plus
# the sources listed in FUZZ_SRC_<name> (set it in your own mk file, e.g.
# FUZZ_SRC_multipart_fuzz := worker/lib/multipart.c).  Seeds: fuzz/seeds/<name>/.
FUZZ_CC     ?= clang
FUZZ_FLAGS  := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -std=gnu11 -D_GNU_SOURCE -Iinclude -Iworker $(WORKER_INC) -I$(B)
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/*_fuzz.c))
# The cascade evaluator is arithmetic over our own tables: compiled without
# coverage tracing (which cost most of each run) but still with ASan/UBSan.
FUZZ_NOCOV  := $(B)/fuzz/nocov/photo/photo_cascade.o $(B)/fuzz/nocov/cascades.o \
               $(B)/fuzz/nocov/photo/hog_face.o $(PHOTO_CXX_OBJ)
FUZZ_SRC_photo_fuzz      := $(filter-out worker/photo/photo_cascade.c,$(PHOTO_SRC)) $(FUZZ_NOCOV)
FUZZ_SRC_photo_spec_fuzz := worker/photo/photo_spec.c
FUZZ_TIME   ?= 60

.SECONDEXPANSION:
$(B)/fuzz/%: fuzz/%.c $$(FUZZ_SRC_$$*) $(HDRS)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< $(FUZZ_SRC_$*) $(PKG_LIBS) \
	  $(if $(filter $(PHOTO_CXX_OBJ),$(FUZZ_SRC_$*)),$(PHOTO_CXXLIBS))

$(B)/fuzz/nocov/%.o: worker/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	  -std=gnu11 -D_GNU_SOURCE -Iinclude -Iworker $(WORKER_INC) -I$(B) -c $< -o $@
$(B)/fuzz/nocov/%.o: $(B)/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	  -std=gnu11 -D_GNU_SOURCE -Iinclude -Iworker $(WORKER_INC) -I$(B) -c $< -o $@

fuzz-build: $(FUZZ_TARGETS)
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_TARGETS); do n=$$(basename $$f); \
	  mkdir -p $(B)/fuzz/corpus-$$n; \
	  seeds=fuzz/seeds/$$n; [ -d $$seeds ] || seeds=; \
	  echo "fuzz: $$n for $(FUZZ_TIME) s"; \
	  $$f -max_total_time=$(FUZZ_TIME) -rss_limit_mb=1024 -timeout=10 $(B)/fuzz/corpus-$$n $$seeds; done

.PHONY: testdata eval fuzz fuzz-build

# tucai-check needs only libvips and jansson: linking the pool's other
# libraries costs start-up time (dynamic symbol lookup) on every run.
$(B)/tucai-check: PKG_LIBS = $(shell pkg-config --libs vips gmodule-2.0 jansson) -lm
