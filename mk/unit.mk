# unit.mk -- cmocka unit tests: every t/unit/<name>.c becomes $(B)/unit/<name>
# (and $(B)/unit/<name>-asan, linked against the ASan objects), linked with
# only the worker objects it tests (UNIT_OBJ_<name>).  t/70_unit.t runs them.

UNIT_SRC   := $(sort $(wildcard t/unit/*_test.c))
UNIT_NAMES := $(patsubst t/unit/%.c,%,$(UNIT_SRC))
UNIT_BINS  := $(patsubst %,$(B)/unit/%,$(UNIT_NAMES)) \
              $(patsubst %,$(B)/unit/%-asan,$(UNIT_NAMES))

UNIT_OBJ_proto_test     :=
UNIT_OBJ_multipart_test := lib/multipart
UNIT_OBJ_token_test     := lib/token
UNIT_OBJ_wxtext_test    := wechat/wxtext
UNIT_OBJ_pool_test      := core/pool_rules
UNIT_OBJ_steps_test     := journey/steps
UNIT_OBJ_locks_test     := journey/locks
UNIT_OBJ_login_backoff_test := admin/login_backoff
UNIT_OBJ_bucket_test    :=
# the edge's pure headers (no nginx types) are tested from ngx_module/
UNIT_CFLAGS_bucket_test := -Ingx_module
$(B)/unit/bucket_test $(B)/unit/bucket_test-asan: ngx_module/ngx_http_tucai_bucket.h

$(foreach n,$(UNIT_NAMES),$(eval $(B)/unit/$(n): $(patsubst %,$(B)/obj/%.o,$(UNIT_OBJ_$(n)))))
$(foreach n,$(UNIT_NAMES),$(eval $(B)/unit/$(n)-asan: $(patsubst %,$(B)/asan/%.o,$(UNIT_OBJ_$(n)))))

$(B)/unit/%-asan: t/unit/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(TCFLAGS) $(UNIT_CFLAGS_$*) $(SAN) -o $@ $< $(filter %.o,$^) $(PKG_LIBS) -lcmocka
$(B)/unit/%: t/unit/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(TCFLAGS) $(UNIT_CFLAGS_$*) -o $@ $< $(filter %.o,$^) $(PKG_LIBS) -lcmocka

unit: $(UNIT_BINS)
TEST_PREP += unit
.PHONY: unit
