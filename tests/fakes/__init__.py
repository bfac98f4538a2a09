"""Test doubles for flaggate's protocols."""
