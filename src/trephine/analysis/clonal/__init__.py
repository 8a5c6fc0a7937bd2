"""clonal layer of Trephine."""
