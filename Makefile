# Developer shortcuts. Everything also works without make (see README.md).
PY ?= .venv/bin/python

.PHONY: venv test test-snapshot-update lint screenshots bench bench-quick demo-capture demo

venv:
	python3 -m venv .venv && .venv/bin/pip install -e ".[test]"

test:
	$(PY) -m pytest

test-snapshot-update:
	$(PY) -m pytest --snapshot-update tests/test_live.py tests/test_inspector.py tests/test_setup.py tests/test_app.py

lint:
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy

screenshots:
	$(PY) scripts/screenshots.py

bench:
	$(PY) bench/bench_decode.py --baseline-ref main && $(PY) bench/bench_app.py

bench-quick:
	$(PY) bench/bench_decode.py --quick --baseline-ref main && $(PY) bench/bench_app.py --quick

demo-capture:
	$(PY) scripts/make_demo.py

demo:
	$(PY) -m meterui demo
