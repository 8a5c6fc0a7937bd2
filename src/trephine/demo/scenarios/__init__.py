"""One module per clinical course of the demo cohort (see :mod:`trephine.demo.cohort`)."""
