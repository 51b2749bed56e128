"""SPIRIT losses."""
