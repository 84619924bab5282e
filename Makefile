# Shortcuts for development; CI runs .ci/run: `pytest -n auto` with SESSMAP_E2E_AGENTS=both.
# Agent versions: tests/e2e/agents.toml. SESSMAP_E2E_AGENTS=pinned|newest|both picks the set.

PYTEST ?= pytest

.PHONY: test test-fast e2e e2e-newest e2e-both

test:  ## the whole suite, as CI runs it
	SESSMAP_E2E_AGENTS=both $(PYTEST) -n auto

test-fast:  ## the fast loop: no tests marked slow
	$(PYTEST) -m "not slow" -n auto

e2e:  ## the end-to-end tests on the pinned claude and codex
	SESSMAP_E2E_AGENTS=pinned $(PYTEST) -n 2 tests/e2e

e2e-newest:  ## the end-to-end tests on the newest claude and codex of agents.toml
	SESSMAP_E2E_AGENTS=newest $(PYTEST) -n 2 tests/e2e

e2e-both:  ## both version sets, one after the other in one run
	SESSMAP_E2E_AGENTS=both $(PYTEST) -n 2 tests/e2e
