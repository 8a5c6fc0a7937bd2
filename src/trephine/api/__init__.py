"""api layer of Trephine."""
