"""Presentation: how results, calls and alerts are shown (JSON shapes, phrases, numbers)."""
