"""One reader per benchmark format (records, galleries by protocol, image paths) plus coverage and verify."""
from common.data.base import BenchmarkReader
from common.data.cirr import CIRR, CIRRTriplet
from common.data.coverage import check_coverage, coverage
from common.data.errors import DataFormatError
from common.data.fashioniq import FashionIQ, FashionIQTriplet, ImageRecord, fiq_caption

__all__ = [
    "BenchmarkReader", "CIRR", "CIRRTriplet", "DataFormatError", "FashionIQ", "FashionIQTriplet", "ImageRecord",
    "check_coverage", "coverage", "fiq_caption",
]
