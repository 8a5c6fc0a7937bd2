"""Clinical criteria as cited data, evaluated by one engine, every call explained.

Pure: no I/O, no database. Entry points:

- :func:`trephine.criteria.engine.evaluate` — one rule set on a dict of facts (plain numbers
  are taken exactly; anything else is refused naming the field).
- :func:`trephine.criteria.cases.evaluate_case` — one case in the ``clinical-cases.json``
  format (what ``trephine criteria evaluate`` runs).
- :func:`trephine.criteria.registry.register` — add a ruleset string (the built-in adapters of
  :mod:`trephine.criteria.adapters`, one module per disease, use it too).
- :mod:`trephine.criteria.facts` — the input contract (units, conversions, aliases,
  ``build_facts``).
"""
