# The two commands a newcomer needs: `make bench` (the benchmark on this machine, ending in
# charts) and `make test` (every check CI runs). Each bootstraps what it needs, idempotently.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
SETUP ?= all
STACK ?= 2016
BENCH_ARGS ?=

.PHONY: bench bench-aws calibrate sweep-aws test deploy bootstrap lint clean-venv

bootstrap:
	@scripts/bootstrap-controller.sh

bench: bootstrap
	@SETUP=$(SETUP) STACK=$(STACK) BENCH_ARGS="$(BENCH_ARGS)" scripts/bench.sh

# The instrument against known delays (playbooks/calibrate.yml): passes when the harness's p50 is
# within 0.5 ms of each delay plus the baseline.
calibrate: bootstrap
	$(BIN)/ansible-playbook playbooks/calibrate.yml $(BENCH_ARGS)

# The same benchmark on an EC2 fleet (docs/aws.md); tears the fleet down however the run ends.
bench-aws: bootstrap
	scripts/bench-aws -e setup=$(SETUP) -e stack=$(STACK) $(BENCH_ARGS)

# Remove every channels-bench resource in AWS_REGION whose expiry has passed, across runs (docs/aws.md);
# DRY_RUN=true only lists them.
DRY_RUN ?= false
sweep-aws: bootstrap
	$(BIN)/ansible-playbook playbooks/sweep.yml -e dry_run=$(DRY_RUN)

deploy: bootstrap
	$(BIN)/ansible-playbook playbooks/deploy.yml -e setup=$(if $(filter all,$(SETUP)),gunicorn,$(SETUP)) -e stack=$(STACK) $(BENCH_ARGS)

lint: bootstrap
	@scripts/lint.sh

test: bootstrap
	@scripts/test.sh

clean-venv:
	rm -rf $(VENV)
