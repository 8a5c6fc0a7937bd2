"""flow layer of Trephine."""
