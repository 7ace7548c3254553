"""Test set-up: make reference/ importable, bound hypothesis in CI, and the
``python_engine`` fixture that switches fxsim to its exact Python engine."""
import os
import pathlib
import sys

import pytest
from hypothesis import HealthCheck, settings

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _force_python_engine(monkeypatch):
    """Until ``monkeypatch`` is undone, fxsim's elementwise operations run on
    the exact Python-int engine instead of the Numba kernels (and tables)."""
    from fxsim import ops
    real = ops.kernel_plan
    monkeypatch.setattr(ops, "kernel_plan", lambda *a: (False, real(*a)[1]))
    monkeypatch.setattr(ops, "hardware_plan", lambda *a: None)  # nor the IEEE hardware


@pytest.fixture(scope="session")
def python_engine():
    """``python_engine(monkeypatch)``: from then on (until that monkeypatch is
    undone) fxsim's operations run on the exact Python engine.  Session-scoped
    (it only hands out the function), so hypothesis tests may use it too."""
    return _force_python_engine
