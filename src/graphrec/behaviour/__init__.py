"""Behaviour analytics over the event log: profiles, segments, browsing sequences."""
