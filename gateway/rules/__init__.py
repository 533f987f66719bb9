"""Sharing rules: the rule language (model), loader/validator, evaluator and calendars (docs/rules.md)."""
