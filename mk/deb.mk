# deb.mk -- `make deb`: Debian packages from the checkout as it is
# (uncommitted changes included), built with debhelper in a copy under
# build/deb/ so the checkout and its build/ stay untouched:
#   build/deb/libnginx-mod-http-tucai_<v>_<arch>.deb
#   build/deb/tucai-worker_<v>_<arch>.deb
# then lintian (errors fail) and systemd-analyze verify of the unit.
# DEB_VERSION=x: a changelog entry with that version first (an upgrade to
# test); DEB_REUSE=DIR: start from the build/ of the copy in DIR (an earlier
# DEB_DIR; no clean: the objects are up to date, the packages are made
# again).  `make test-deb` installs them (t/deb/install.pl: root, outside
# `make test`, called by .ci/run).

DEB_DIR     ?= $(B)/deb
DEB_VERSION ?=
DEB_REUSE   ?=

deb:
	rm -rf $(DEB_DIR)/keep
	@if [ -n "$(DEB_REUSE)" ]; then \
	    mkdir -p $(DEB_DIR)/keep && cp -a $(DEB_REUSE)/src/build $(DEB_DIR)/keep/; fi
	rm -rf $(DEB_DIR)/src $(DEB_DIR)/*.deb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	mkdir -p $(DEB_DIR)/src
	tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C $(DEB_DIR)/src
	@if [ -d $(DEB_DIR)/keep/build ]; then mv $(DEB_DIR)/keep/build $(DEB_DIR)/src/; fi
	@if [ -n "$(DEB_VERSION)" ]; then \
	    { printf 'tucai (%s) unstable; urgency=medium\n\n  * Rebuild.\n\n -- tucai maintainers <tucai@example.edu.cn>  %s\n\n' \
	        "$(DEB_VERSION)" "$$(date -R)"; cat debian/changelog; } > $(DEB_DIR)/src/debian/changelog; fi
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b $(if $(DEB_REUSE),-nc) >../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	lintian --fail-on error --suppress-tags-from-file debian/lintian-suppress \
	    $(DEB_DIR)/*.changes | tee $(DEB_DIR)/lintian.log
	@# the unit as packaged, its ExecStart pointed at the packaged binary
	@# (not installed yet; t/deb/install.pl verifies the installed one)
	mkdir -p $(DEB_DIR)/verify
	sed 's|/usr/sbin/tucai-worker|$(abspath $(DEB_DIR))/src/debian/tucai-worker/usr/sbin/tucai-worker|' \
	    $(DEB_DIR)/src/debian/tucai-worker/lib/systemd/system/tucai-worker.service \
	    > $(DEB_DIR)/verify/tucai-worker.service
	systemd-analyze verify --man=no $(DEB_DIR)/verify/tucai-worker.service
	@ls -l $(DEB_DIR)/*.deb

test-deb: deb
	prove -I t/lib t/deb/install.pl

.PHONY: deb test-deb
