"""importers layer of Trephine."""
