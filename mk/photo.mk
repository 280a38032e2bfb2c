# mk/photo.mk -- the photo pipeline's extra rules: cascade tables generated
# from Debian's opencv-data, test data, `make eval`, fuzzers.

CASCADE_DIR  ?= /usr/share/opencv4/haarcascades
CASCADE_FACE ?= $(CASCADE_DIR)/haarcascade_frontalface_alt2.xml
CASCADE_EYE  ?= $(CASCADE_DIR)/haarcascade_eye.xml

$(B)/cascades.c: tools/cascade2c.py $(CASCADE_FACE) $(CASCADE_EYE)
	@mkdir -p $(B)
	/usr/bin/python3 tools/cascade2c.py $@ face=$(CASCADE_FACE) eye=$(CASCADE_EYE)

# Real photos from Debian packages plus generated variants (idempotent).
$(B)/testdata/.done: tools/testdata.sh tools/testdata_gen.py
	bash tools/testdata.sh $(B)/testdata
testdata: $(B)/testdata/.done
TEST_PREP += testdata photo-fuzz-smoke

eval: $(B)/tucai-check testdata
	/usr/bin/python3 eval/photo_eval.py $(B)/tucai-check $(B)/testdata

# Fuzzers: every fuzz/<name>_fuzz.c becomes $(B)/fuzz/<name>_fuzz, linked
# with the photo objects (built with clang for libFuzzer).  Other fuzz
# targets declare extra sources with FUZZ_SRC_<name> in their own mk file.
FUZZ_CC     ?= clang
FUZZ_FLAGS  := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -std=gnu11 -D_GNU_SOURCE -Iinclude -Iworker -I$(B)
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/*_fuzz.c))
FUZZ_SRC_photo_fuzz := $(PHOTO_SRC) $(GEN_SRC)
FUZZ_TIME   ?= 60

$(B)/fuzz/%: fuzz/%.c $(PHOTO_SRC) $(GEN_SRC) $(HDRS)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< $(FUZZ_SRC_$*) $(PKG_LIBS)

fuzz-build: $(FUZZ_TARGETS)
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_TARGETS); do n=$$(basename $$f); \
	  mkdir -p $(B)/fuzz/corpus-$$n; \
	  seeds=fuzz/seeds/$$n; [ -d $$seeds ] || seeds=; \
	  echo "fuzz: $$n for $(FUZZ_TIME) s"; \
	  $$f -max_total_time=$(FUZZ_TIME) -rss_limit_mb=1024 -timeout=10 $(B)/fuzz/corpus-$$n $$seeds; done

photo-fuzz-smoke: $(B)/fuzz/photo_fuzz
	@mkdir -p $(B)/fuzz/corpus-photo_fuzz
	$(B)/fuzz/photo_fuzz -runs=300 -rss_limit_mb=1024 -timeout=10 $(B)/fuzz/corpus-photo_fuzz fuzz/seeds/photo_fuzz

.PHONY: testdata eval fuzz fuzz-build photo-fuzz-smoke
