"""Trephine's test kit for plugin and site authors, shipped as a pytest plugin.

Installing Trephine registers :mod:`trephine.testing.plugin` under pytest's ``pytest11`` entry
point, so a project's tests get its fixtures (``trephine_sqlite_url``, ``trephine_database``,
``trephine_demo``) without a ``conftest.py``. :mod:`trephine.testing.fixtures` has the plain
function behind them; :mod:`trephine.testing.strategies` has Hypothesis strategies and is the only
module here that needs Hypothesis (the ``dev`` extra). Trephine's own fixtures live in ``tests/``.
"""
