# Browser libraries for the static pages, vendored from npm at build time
# (versions pinned by tools/www/package-lock.json): Apache ECharts (progress
# charts) and SheetJS (.xlsx rosters read in the browser) are copied into
# www/admin/vendor/ (not in git: ~1.9 MB); axe-core stays in build/npm for
# the Chromium tests.  `make test` and `make run` build them.
NPM_DIR    := $(B)/npm
WWW_VENDOR := www/admin/vendor/echarts.min.js www/admin/vendor/xlsx.full.min.js

$(NPM_DIR)/.stamp: tools/www/package.json tools/www/package-lock.json
	@mkdir -p $(NPM_DIR)
	cp tools/www/package.json tools/www/package-lock.json $(NPM_DIR)/
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

www/admin/vendor/echarts.min.js: $(NPM_DIR)/.stamp
	@mkdir -p $(@D)
	cp $(NPM_DIR)/node_modules/echarts/dist/echarts.min.js $@
www/admin/vendor/xlsx.full.min.js: $(NPM_DIR)/.stamp
	@mkdir -p $(@D)
	cp $(NPM_DIR)/node_modules/xlsx/dist/xlsx.full.min.js $@

www: $(WWW_VENDOR)
TEST_PREP += www
.PHONY: www
