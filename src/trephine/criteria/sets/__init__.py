"""Criteria sets, one module per set and edition. Each exports ``RULESET`` (or several)."""
