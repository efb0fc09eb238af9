# Developer and CI entry points. `make test` is the one command CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := $(CURDIR)/.venv
BIN         := $(VENV)/bin
# The oldest ansible-core meta/runtime.yml claims, for tests/e2e (under build/: galaxy.yml's build_ignore).
VENV216     := $(CURDIR)/build/venv-216
# sslyze for molecule/proxy, in a venv of its own (requirements/sslyze.in says why).
VENV_SSLYZE := $(CURDIR)/build/venv-sslyze
export PATH := $(BIN):$(PATH)
export CONTAINERS_CONF := $(CURDIR)/harness/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
SCENARIOS   ?= $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))
# Slowest first, so that the job slots finish close together.
SLOW_FIRST  := proxy e2e python_source inventories deploy alone hardening monitoring log_shipping app_server runtime ee
# No container registry is reachable on the test machines: the EE is built FROM the local Debian 12 image.
export EE_BASE_IMAGE ?= localhost/pyops-testhost:debian12
JOBS        ?= 2
SCENARIO    ?= runtime
# chromium: the e2e looks at the sandbox's Nagios web interface in it, headless (tests/e2e/nagios_web.py).
APT_NEEDS   := podman runc debootstrap netavark aardvark-dns iptables openssh-client chromium
INOTIFY_INSTANCES := 1024
# The Django sample's unit tests start a throwaway PostgreSQL server of their own (tests/examples).
APT_UNIT_NEEDS := postgresql
# make test runs the gates side by side: their package installs take turns on one lock.
APT         := flock /var/lock/pyops-make-apt.lock apt-get

.PHONY: help
help:  ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/ansible: requirements/dev.txt
	@test -x $(BIN)/python || python3 -m venv $(VENV) || { $(APT) update -qq && $(APT) install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements/dev.txt
	@touch $@

.PHONY: venv
venv: $(BIN)/ansible  ## Create .venv with the pinned tools

$(VENV216)/bin/ansible-playbook: requirements/core216.txt | $(BIN)/ansible
	@test -x $(VENV216)/bin/python || python3 -m venv --without-pip $(VENV216)
	$(BIN)/uv pip sync -q --python $(VENV216)/bin/python requirements/core216.txt
	@touch $@

.PHONY: venv-216
venv-216: $(VENV216)/bin/ansible-playbook  ## Create build/venv-216: ansible-core 2.16 and Ansible 9's collections (tests/e2e)

$(VENV_SSLYZE)/bin/sslyze: requirements/sslyze.txt | $(BIN)/ansible
	@test -x $(VENV_SSLYZE)/bin/python || python3 -m venv --without-pip $(VENV_SSLYZE)
	$(BIN)/uv pip sync -q --python $(VENV_SSLYZE)/bin/python requirements/sslyze.txt
	@touch $@

.PHONY: venv-sslyze
venv-sslyze: $(VENV_SSLYZE)/bin/sslyze  ## Create build/venv-sslyze: sslyze, for molecule/proxy's Mozilla TLS check

.PHONY: host-packages
host-packages:  ## Install podman, runc, debootstrap, the SSH client and Chromium when missing; raise the inotify instance limit
	@missing=$$(for p in $(APT_NEEDS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq $$missing; fi
	@# Every container's systemd, journald and rsyslog take inotify instances from root's one per-host
	@# limit (128 by default): with a few scenarios' containers up at once, rsyslog's imfile in the next
	@# one could not start ("Too many open files") and its proxy's access lines were never shipped.
	@if [ "$$(cat /proc/sys/fs/inotify/max_user_instances)" -lt $(INOTIFY_INSTANCES) ]; then \
		echo "host-packages: fs.inotify.max_user_instances raised to $(INOTIFY_INSTANCES) for the test containers"; \
		echo $(INOTIFY_INSTANCES) >/proc/sys/fs/inotify/max_user_instances; fi

.PHONY: unit-packages
unit-packages:  ## Install PostgreSQL's server programs when missing (the Django sample's tests)
	@missing=$$(for p in $(APT_UNIT_NEEDS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq $$missing; fi

.PHONY: images
images: host-packages  ## Build (or reuse) the Debian 12 and 13 test-host images
	harness/build-images.sh bookworm trixie

.PHONY: lint
lint: venv  ## yamllint, ansible-lint (production profile), ruff, role docs up to date
	yamllint --strict .
	ansible-lint --profile production
	ruff check .
	ruff format --check .
	$(BIN)/python tools/role_docs.py --check
	antsibull-changelog lint

.PHONY: unit
unit: venv unit-packages  ## Unit tests with plain pytest, the example inventories and the Django sample checked
	pytest -q tests/unit tests/inventories tests/examples tests/docs

.PHONY: sanity
sanity: venv  ## ansible-test sanity and units from a built collection tree
	tools/ansible-test.sh sanity
	tools/ansible-test.sh units

.PHONY: galaxy
galaxy: venv  ## Build the tarball, install it into a temporary path, check what shipped
	tools/galaxy-install-test.sh

.PHONY: molecule
molecule: venv venv-sslyze images  ## One scenario: make molecule SCENARIO=proxy
	molecule test -s $(SCENARIO)

.PHONY: molecule-all
molecule-all: venv venv-216 venv-sslyze images  ## Every scenario, e2e, inventories and ee, JOBS (2) at a time; logs in build/molecule/
	JOBS=$(JOBS) tools/molecule-all.sh $(filter $(SCENARIOS) e2e inventories ee,$(SLOW_FIRST)) $(filter-out $(SLOW_FIRST),$(SCENARIOS))

.PHONY: e2e
e2e: venv venv-216 images  ## The sandbox through the galaxy tarball and ansible-runner, judged from outside
	pytest -v --durations=0 tests/e2e

.PHONY: inventories
inventories: venv images  ## inventories/prod and staging converged twice on containers, the app judged through the proxy
	pytest -v --durations=0 tests/example_inventories

.PHONY: ee
ee: venv images  ## Build the AWX execution environment and check it inside (tools/ee-build.sh)
	tools/ee-build.sh

# The gates and what molecule-all needs besides them (build/venv-216 and venv-sslyze, the images) are
# independent and mostly single-threaded (or waiting on the network): run side by side, three at a time,
# each one's output printed whole when it ends. molecule-all starts only once every one of them passed.
GATE_JOBS   ?= 3

.PHONY: test
test:  ## Every gate and every Molecule scenario (what CI runs)
	$(MAKE) --no-print-directory -j$(GATE_JOBS) --output-sync=target lint unit sanity galaxy venv-216 venv-sslyze images
	$(MAKE) --no-print-directory molecule-all

.PHONY: bench-virtualenv
bench-virtualenv: venv images  ## Time pip vs uv (cold, warm, wheelhouse) building the Flask sample's venv
	benchmarks/virtualenv_bench/run.sh

.PHONY: bench-site
bench-site: venv images  ## Time site.yml on the sandbox: first converge, no-op, no-op under Mitogen (not beside demo or e2e)
	benchmarks/site_bench/run.sh

.PHONY: bench-deploy
bench-deploy: venv images  ## Deploy, redeploy, no-change and rollback under load: pyops vs deploy_helper (PYOPS_BENCH_APPS=N hosts, default 2)
	benchmarks/deploy_bench/run.sh

.PHONY: docs
docs: venv  ## Regenerate the variable tables in roles/*/README.md
	$(BIN)/python tools/role_docs.py

.PHONY: demo
demo: venv images  ## Bring up the sandbox and run site.yml against it
	tools/sandbox.sh up
	ansible-playbook site.yml -i inventories/sandbox
	tools/sandbox.sh info

.PHONY: demo-down
demo-down:  ## Remove the sandbox containers and network
	tools/sandbox.sh down

.PHONY: lock
lock: venv  ## Re-pin requirements/*.txt from their .in files
	$(BIN)/uv pip compile -q --python-version 3.11 requirements/dev.in -o requirements/dev.txt
	$(BIN)/uv pip compile -q --python-version 3.11 --no-emit-package pip requirements/ee.in -o requirements/ee.txt
	$(BIN)/uv pip compile -q --python-version 3.11 requirements/core216.in -o requirements/core216.txt
	$(BIN)/uv pip compile -q --python-version 3.11 requirements/sslyze.in -o requirements/sslyze.txt

.PHONY: clean
clean:  ## Remove build output, build/venv-216 and build/venv-sslyze (keeps .venv and images)
	rm -rf build .cache tests/output *.tar.gz
