"""web layer of Trephine."""
