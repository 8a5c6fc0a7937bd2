"""export layer of Trephine."""
