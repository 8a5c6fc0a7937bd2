"""domain layer of Trephine."""
