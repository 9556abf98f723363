"""The deployment-shaped run (bench/deploy_run.py), split along its jobs:

- common.py     settings, the time budget, `Failed`, `wait_for`, `http`
- model.py      the fake model (Anthropic API) that says which cluster called it
- processes.py  the children (gunicorn, two qcluster), ports, their environment, set-up
- checks.py     the scenario and its measurements against the database and the fakes
- report.py     the printed figures
- run.py        `main()`: set-up, the checks, clean-up

Imported as the top-level package `deploy` (bench/ is on sys.path when bench/deploy_run.py
runs as a script); the repository root is put on sys.path by that script for `tests.fakes`.
"""
