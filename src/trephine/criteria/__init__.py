"""criteria layer of Trephine."""
