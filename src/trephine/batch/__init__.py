"""Batch work over many files: a lab's day of flow tubes at once (MRD, or gated populations).

* :mod:`trephine.batch.flow_mrd` - what happens to ONE tube (read, gate, quantify MRD or only
  count the gates) and the small
  record it yields; pure Python + numpy, no Dask, so it is testable and reusable on its own.
* :mod:`trephine.batch.runner` - fans those tubes out over a Dask cluster (a local one sized to
  the machine, or an existing scheduler) and collects the records in path order.
* :mod:`trephine.batch.output` - writes the records as CSV, JSON or Excel.

This package never touches the database: a caller that wants to store results passes its own
function (see the CLI).
"""
