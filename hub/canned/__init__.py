"""Canned responses: reply templates with variables, rendered in a sandbox."""
