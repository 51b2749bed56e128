"""FashionERN models: ERN (DVR + target side), the fusion blocks and the reconstructed TME."""
from fashionern.models.fusion_model import CombinerSimple, DVR_module, EncoderModel, PlusModel, VisualSR
from fashionern.models.model import ERN
from fashionern.models.tme import TME, TextTower

__all__ = ["CombinerSimple", "DVR_module", "ERN", "EncoderModel", "PlusModel", "TME", "TextTower", "VisualSR"]
