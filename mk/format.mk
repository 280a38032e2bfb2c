# format.mk -- one style across worker/ (.clang-format, nginx-like).
# `make format-check` lists the files whose formatting differs and fails;
# `make format` rewrites them.  `make test` runs the check first, so code
# that lands unformatted fails CI.
FORMAT_SRC := $(sort $(wildcard worker/*.c worker/*.h worker/*/*.c worker/*/*.h))
CLANG_FORMAT ?= clang-format

format:
	$(CLANG_FORMAT) -i $(FORMAT_SRC)

format-check:
	@$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_SRC) 2>&1 \
	  | grep -o '^[^:]*\.[ch]' | sort -u | sed 's/^/format: differs: /' \
	  | { ! grep .; }

TEST_PREP += format-check

.PHONY: format format-check
