"""cohort layer of Trephine."""
