"""io layer of Trephine."""
