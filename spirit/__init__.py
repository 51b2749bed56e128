"""SPIRIT (TOMM'24): style-guided patch interaction for fashion image retrieval with text feedback."""
