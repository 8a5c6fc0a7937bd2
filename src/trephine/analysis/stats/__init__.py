"""Small statistics shared by every part of Trephine: binomial intervals and paired tests.

One home so that the differential page, the lab report, the procedure rate reports, the research
analyses and the microenvironment comparisons give the same interval for the same count.
"""

from trephine.analysis.stats.intervals import Interval, clopper_pearson, wilson
from trephine.analysis.stats.paired import PairedTest, benjamini_hochberg, paired_wilcoxon

__all__ = [
    "Interval",
    "PairedTest",
    "benjamini_hochberg",
    "clopper_pearson",
    "paired_wilcoxon",
    "wilson",
]
