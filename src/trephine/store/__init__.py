"""store layer of Trephine."""
