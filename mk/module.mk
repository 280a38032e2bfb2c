# Builds the nginx dynamic module against Debian's installed nginx: a copy of
# nginx-dev's source tree configured with Debian's own flags (--with-compat),
# so the .so loads into /usr/sbin/nginx.

NGX_SRC_DIR  := $(B)/nginx-src
# debian/rules passes dpkg-buildflags' hardening flags here
NGX_CC_OPT   ?= -Werror
NGX_LD_OPT   ?=
NGX_MOD_SRCS := $(wildcard ngx_module/*.c ngx_module/*.h) include/tucai_proto.h include/tucai_errors.h include/tucai_ops.def

ALL += $(B)/ngx_http_tucai_module.so

$(NGX_SRC_DIR)/objs/Makefile: config mk/module.mk
	rm -rf $(NGX_SRC_DIR)
	mkdir -p $(B)
	cp -a /usr/share/nginx/src $(NGX_SRC_DIR)
	cd $(NGX_SRC_DIR) && source ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	    --add-dynamic-module=$(CURDIR) >configure.log 2>&1 \
	    || { tail -30 configure.log; exit 1; }

$(B)/ngx_http_tucai_module.so: $(NGX_SRC_DIR)/objs/Makefile $(NGX_MOD_SRCS)
	$(MAKE) -C $(NGX_SRC_DIR) -f objs/Makefile modules
	@# a new inode, never rewritten in place: running nginx processes (tests
	@# of others) have the old one mapped
	cp $(NGX_SRC_DIR)/objs/ngx_http_tucai_module.so $@.tmp && mv -f $@.tmp $@

module: $(B)/ngx_http_tucai_module.so
.PHONY: module
