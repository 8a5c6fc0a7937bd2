"""Stored-timeline assessment: a patient's signed-out results → dated, explained calls and alerts.

Pure (no database): the services load :class:`~trephine.assess.inputs.PatientInputs` and store
what comes back. The public shape:

- :mod:`trephine.assess.inputs` — ``PatientInputs`` (diagnoses, therapy lines, specimens,
  signed-out results) and the helpers the evaluators share (``by_date``, ``diagnostic_date``).
- :mod:`trephine.assess.timepoints` — ``TimePoint`` and ``timepoints(inputs)`` (what AML reads).
- :mod:`trephine.assess.call` — ``Call`` (the one typed call object, with its one ``digest``),
  ``Alert`` and ``Calls`` (what an evaluator returns).
- one module per disease (``aml``, ``acute_lymphoblastic``, ``cll``, ``mds``, ``myeloma``,
  ``aplastic_anaemia``), each with ``assess(inputs, params) -> Calls`` and ``RULESETS``.
- :mod:`trephine.assess.registry` — ``ASSESSORS`` (diagnosis → name, rule sets, evaluator),
  ``choose(diagnoses, requested)`` and ``lookup(name)``.
"""
