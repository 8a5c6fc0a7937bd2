"""Clonal evolution across serial marrows (pure: no files, no database).

Pipeline on plain :class:`~trephine.analysis.clonal.records.VariantObservation` records:

* :mod:`.tracking` — presence per specimen on real days, status, depth-aware call, CHIP flag;
* :mod:`.clustering` — beta-binomial mixture over mutations × samples, BIC model selection;
* :mod:`.tree` — clone tree under the sum rule and the time order (branch and bound);
* :mod:`.pipeline` — ``analyse(observations, Settings())`` runs all three, ``.to_json()``;
* :mod:`.plotdata` / :mod:`.plots` — fish-plot bands, tree layout; matplotlib figures.

Kept import-light on purpose: parsers import :mod:`.records` without pulling in numpy/scipy.
"""
