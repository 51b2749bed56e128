"""FashionERN losses."""
from fashionern.losses.loss import BatchBasedClassificationLoss

__all__ = ["BatchBasedClassificationLoss"]
