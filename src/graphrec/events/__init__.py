"""Behaviour events: types, validation, weighting and cleaning."""
