# scale.mk -- `make load` (the journey load generator, tools/load.pl) and
# `make test-cluster` (three Galera nodes, two hosts, faults: t/cluster/).
# LOAD_ARGS passes options, e.g. make load LOAD_ARGS="--students 200 --rate 4".
LOAD_ARGS ?=
load: deps
	$(MAKE) all testdata
	perl -I t/lib tools/load.pl $(LOAD_ARGS)

# The cluster test (t/cluster/*.tc, not part of `make test`: ~3-4 min).
# TUCAI_SOAK=600 makes it the 10-minute soak.
test-cluster: deps
	$(MAKE) all testdata
	prove -v --ext .tc -I t/lib t/cluster/

.PHONY: load test-cluster
