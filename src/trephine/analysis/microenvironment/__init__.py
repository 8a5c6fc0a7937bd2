"""Microenvironment analyses (issue 14): cell-type composition and spatial co-localisation
(:mod:`.composition`), paired before/after comparisons (:mod:`.paired`). numpy/scipy only."""
