"""cicd_lab: gate, register, route, judge and roll out a model, with MLflow.

Modules you complete (one per task): ``gate``, ``registry``, ``router``, ``judge`` and
``pipeline``. Given: ``simulate`` (seeded fake traffic) and ``__main__`` (the CLI that
CI runs: ``python -m cicd_lab gate …`` and ``python -m cicd_lab rollout …``).
"""
