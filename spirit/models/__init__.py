"""SPIRIT model: PSC transformer, PSD (VisualSA + VisualGR), style fusion, two-branch Combiner2."""
from spirit.models.spirit_model import SPIRIT

__all__ = ["SPIRIT"]
