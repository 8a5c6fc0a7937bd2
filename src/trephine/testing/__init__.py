"""testing layer of Trephine."""
