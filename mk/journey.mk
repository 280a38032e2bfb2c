# journey.mk -- the journey's extra rules: the multipart fuzzer (the
# pattern rule for fuzz/*_fuzz.c lives in mk/photo.mk).
FUZZ_SRC_multipart_fuzz := worker/lib/multipart.c
$(B)/fuzz/multipart_fuzz: worker/lib/multipart.c worker/lib/multipart.h

# A short fuzz run as part of the test preparation (seconds).
multipart-fuzz-smoke: $(B)/fuzz/multipart_fuzz
	@mkdir -p $(B)/fuzz/corpus-multipart_fuzz
	$(B)/fuzz/multipart_fuzz -runs=20000 -timeout=10 $(B)/fuzz/corpus-multipart_fuzz fuzz/seeds/multipart_fuzz

TEST_PREP += multipart-fuzz-smoke
.PHONY: multipart-fuzz-smoke

# Test helper: QR pictures of collection codes.
$(B)/journey-qrgen: t/20_journey_qrgen.c
	@mkdir -p $(B)
	$(CC) $(TCFLAGS) -o $@ $< $(PKG_LIBS)
TEST_PREP += $(B)/journey-qrgen
