"""analysis layer of Trephine."""
