# Gavel: `make run` opens the console, `make test` runs every check CI runs.
# Each venv is rebuilt only when what it installs from changes.

PY ?= $(shell command -v python3.11 || command -v python3)
# The console runs from a venv with the app's runtime dependencies only: the test
# extra brings keyrings.alt, whose plaintext file would become the "OS keyring".
APP_VENV := .venv-app
# Tests, lint and packaging: the app plus the test and packaging extras.
VENV := .venv
BIN := $(VENV)/bin
MLFLOW_VENV := .venv-mlflow
MLFLOW_VERSION := 3.17.2
MLSERVER_VENV := .venv-mlserver
MLSERVER_VERSION := 1.7.1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint unit package package-check bench bench-sync bench-ledger bench-claims \
	bench-audit-view bench-endpoints bench-charts bench-lineage bench-scale bench-bundle \
	bench-delivery bench-overview bench-evidence app-venv venv mlflow-venv mlserver-venv clean

run: app-venv mlflow-venv
	$(APP_VENV)/bin/gavel

app-venv: $(APP_VENV)/.installed
$(APP_VENV)/.installed: pyproject.toml
	test -x $(APP_VENV)/bin/python || $(PY) -m venv $(APP_VENV)
	$(APP_VENV)/bin/pip install -q --upgrade pip
	$(APP_VENV)/bin/pip install -q -e .
	touch $@

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,packaging]'
	touch $@

# MLflow lives in its own venv so its pins never touch the app's.
mlflow-venv: $(MLFLOW_VENV)/.installed
$(MLFLOW_VENV)/.installed:
	test -x $(MLFLOW_VENV)/bin/python || $(PY) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install -q --upgrade pip
	$(MLFLOW_VENV)/bin/pip install -q 'mlflow[auth]==$(MLFLOW_VERSION)'
	touch $@

# MLServer serves the endpoint tests' model, from its own venv like MLflow. The
# fixture sets parallel_workers to 0: with uvloop >= 0.22 MLServer's parallel
# inference workers fail to load the model.
mlserver-venv: $(MLSERVER_VENV)/.installed
$(MLSERVER_VENV)/.installed:
	test -x $(MLSERVER_VENV)/bin/python || $(PY) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/pip install -q --upgrade pip
	$(MLSERVER_VENV)/bin/pip install -q 'mlserver==$(MLSERVER_VERSION)' \
		'mlserver-sklearn==$(MLSERVER_VERSION)' 'scikit-learn==1.9.1' 'joblib==1.6.0'
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: venv mlflow-venv mlserver-venv
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest

test: lint unit package-check

package: venv
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/gavel.spec

# The frozen app must start: the CLI answers and the console paints offscreen.
package-check: package
	dist/gavel/gavel --version
	home=$$(mktemp -d) && GAVEL_HOME=$$home dist/gavel/gavel models list --json \
		&& GAVEL_HOME=$$home QT_QPA_PLATFORM=offscreen dist/gavel/gavel gui --no-demo --smoke-test \
		&& rm -rf $$home

bench: bench-sync bench-ledger bench-claims bench-audit-view bench-endpoints bench-charts \
	bench-lineage bench-scale bench-bundle bench-delivery bench-overview bench-evidence

bench-sync: venv mlflow-venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.bench_sync

# 100,000 versions, one model with 20,000, against 10,000; SCALE=0.3 for a shorter run.
SCALE ?= 1.0
bench-scale: venv mlflow-venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.bench_scale --scale $(SCALE)

# Verifying 1,000,000 signed-ledger events against the read + SHA-256 floor.
bench-ledger: venv
	$(BIN)/python -m bench.bench_ledger

# Append throughput with the serialized claim: 4 writer processes, signed and judged.
bench-claims: venv
	$(BIN)/python -m bench.bench_claims

bench-audit-view: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.bench_audit_view

bench-endpoints: venv
	$(BIN)/python -m bench.bench_endpoints

bench-charts: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.bench_charts

bench-lineage: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.bench_lineage

bench-bundle: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.bench_bundle

# The delivery report on 1,000,000 ledger events, 1,000 models, 100,000 versions.
bench-delivery: venv
	$(BIN)/python -m bench.bench_delivery

# The Overview page over 1,000 models, 100,000 versions and 1,000,000 ledger events.
bench-overview: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.bench_overview

# One applied request's evidence pack as PDF with charts (target <= 2 s), on a real MLflow.
bench-evidence: venv mlflow-venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.bench_evidence

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache
