# The two README commands: `make demo` (main job on the embedded default) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean-cache chromium

# --no-cache-dir: the venv alone is ~5.5 GB (torch's CUDA build); pip's cache would add a second copy of every
# download, and a CI machine once ran out of disk during this install.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir --upgrade "pip>=24"
	$(PY) -m pip install -q --no-cache-dir -r requirements.txt
	$(PY) -m pip install -q --no-cache-dir --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m demo.run

test: $(STAMP) chromium
	$(PY) -m pytest -q tests

# The viewer test renders pages in Debian's headless Chromium; installed here when we are root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "note: chromium is not installed (apt-get install chromium); the viewer test skips outside CI"

bench: $(STAMP)
	$(PY) -m bench.run

clean-cache:
	rm -rf $${CIR_CACHE:-$$HOME/.cache/cir}
