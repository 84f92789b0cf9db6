# Lutetia: `make demo` runs the main job, `make test` runs every check.
# Both set up the locked virtual environment first (uv, installed from PyPI if absent).

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
RUN := $(UV) run --frozen --no-sync

.PHONY: setup demo walkthrough test lint types unit benchmark clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

setup: $(UV)
	$(UV) sync --frozen --compile-bytecode

# The main job: the clinic web app, seeded with synthetic patients at every stage, over an
# embedded SQLite database, served on 127.0.0.1 only. It prints the address and the sign-in.
demo: setup
	$(RUN) lutetia demo --fresh

# The command-line walk-through: one patient through the programme with the bundled
# examples; documents in out/.
walkthrough: setup
	@mkdir -p out
	@echo "== 1. Patient selection: lutetia assess examples/cases/01-vision-eligible.json"
	$(RUN) lutetia assess examples/cases/01-vision-eligible.json
	@echo; echo "== 2. Next cycle: lutetia next-cycle examples/cases/23-course-grade2-scheduled.json"
	$(RUN) lutetia next-cycle examples/cases/23-course-grade2-scheduled.json
	@echo; echo "== 3. Plan: lutetia schedule examples/cases/21-course-proceed.json --ics out/plan.ics"
	$(RUN) lutetia schedule examples/cases/21-course-proceed.json --ics out/plan.ics
	@echo; echo "== 4. Release after cycle 2 (dose rates at 1 m) and the discharge letter"
	$(RUN) lutetia release --administered-at 2026-02-19T10:30+01:00 --dose-rate 2=25 --dose-rate 24=12 --dose-rate 48=8
	$(RUN) lutetia letter examples/cases/21-course-proceed.json --injected-at 2026-02-19T10:30+01:00 --prescribed-gbq 7.4 --dose-rate 2=25 --dose-rate 24=12 --dose-rate 48=8 --html out/letter.html --pdf out/letter.pdf
	@echo; echo "== 5. Kidney dosimetry: lutetia dose tac examples/tac/kidneys.csv --mass-g 300"
	$(RUN) lutetia dose tac examples/tac/kidneys.csv --mass-g 300 --plot out/kidneys-tac.png
	$(RUN) lutetia dose bed --dose-gy 2.07 --teff-h 42.4 --organ kidneys
	@echo; echo "== 6. Image dosimetry: the synthetic SPECT/CT phantom (4 scans, moved between them)"
	@rm -rf out/phantom && mkdir -p out/phantom
	$(RUN) python -c "from lutetia.imaging.phantom import make_phantom; make_phantom('out/phantom', shape=(48, 48, 48), spacing_mm=(6.4, 6.4, 6.4))"
	$(RUN) lutetia dose images $(foreach h,4 24 48 168,--spect out/phantom/spect_$(h)h) --ct out/phantom/ct --masks out/phantom/labels.nii.gz --labels out/phantom/labels.json --calibration-cps-per-mbq 10 --register

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

types: setup
	$(RUN) mypy

# The clinic's tests run twice: on SQLite (with everything else) and on a throw-away
# PostgreSQL server (tests/clinic/with_postgres.py; skipped with a message where PostgreSQL
# is not installed, required under .ci/run).
unit: setup
	$(RUN) pytest
	$(RUN) python tests/clinic/with_postgres.py $(UV) run --frozen --no-sync pytest tests/clinic -q -p no:cacheprovider

test: lint types unit

benchmark: setup
	$(RUN) python benchmarks/assess_throughput.py
	$(RUN) python benchmarks/tac_fits.py

clean:
	rm -rf .venv .tools .mypy_cache .pytest_cache .ruff_cache .hypothesis

# Mutation testing of src/lutetia/guideline and src/lutetia/clinical with mutmut
# ([tool.mutmut] in pyproject.toml; about 30 minutes on 2 cores, results kept in mutants/:
# delete it for a clean run; a survivor is not run again after a test is added unless it is
# named: `mutmut run NAME ...`). Survivors: `mutmut results`; one: `mutmut show NAME`.
# Figures and the classification of survivors: benchmarks/README.md, "Mutation testing".
.PHONY: mutation
mutation: setup
	$(RUN) mutmut run
	$(RUN) mutmut export-cicd-stats
	@cat mutants/mutmut-cicd-stats.json; echo
	$(RUN) python benchmarks/mutation_kinds.py
