"""Clinical criteria as cited data, evaluated by one engine, every call explained.

Pure: no I/O, no database. Entry points:

- :func:`trephine.criteria.engine.evaluate` — one rule set on a dict of facts.
- :func:`trephine.criteria.cases.evaluate_case` — one case in the ``clinical-cases.json``
  format (what ``trephine criteria evaluate`` runs).
- :func:`trephine.criteria.cases.register` — add a ruleset string (built-ins use it too).
"""
