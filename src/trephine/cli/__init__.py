"""cli layer of Trephine."""
