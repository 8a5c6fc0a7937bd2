"""services layer of Trephine."""
