# pool.mk -- the pool's extra rules: a short run of the frame-decoding
# fuzzer as part of the test preparation (seconds).
FUZZ_SRC_pool_proto_fuzz := worker/core/proto.c worker/core/respond.c worker/lib/buf.c

pool-fuzz-smoke: $(B)/fuzz/pool_proto_fuzz
	@mkdir -p $(B)/fuzz/corpus-pool_proto_fuzz
	$(B)/fuzz/pool_proto_fuzz -runs=50000 -timeout=10 $(B)/fuzz/corpus-pool_proto_fuzz fuzz/seeds/pool_proto_fuzz

TEST_PREP += pool-fuzz-smoke
.PHONY: pool-fuzz-smoke

# The layer check (worker/README.md) on the objects `make all` built;
# t/00_layers.t runs it as part of the suite.
layers: $(B)/tucai-worker
	perl tools/layers.pl worker $(B)/obj
.PHONY: layers
