"""Presentation: how results, calls and numbers are shown to people and other systems.

One home for what every edge (API, pages, CLI) shows, so they never disagree:

* :mod:`trephine.present.numbers` - the one number-formatting and rounding rule (values at
  their reported precision; computed values to four significant digits; evidence text);
* :mod:`trephine.present.chronology` - a patient's story by date, one phrase per result kind;
* :mod:`trephine.present.assessments` - the public JSON shape of a stored call and an alert.

Export formats (FHIR bundles, research tables, printable reports) will live here too, one
module per format, each built from the services' read models - never from the database.
"""
