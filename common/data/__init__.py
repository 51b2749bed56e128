"""One reader per benchmark format (records, galleries by protocol, image paths) plus coverage and verify."""
from common.data.base import BenchmarkReader, ImageRecord
from common.data.circo import CIRCO, CIRCOQuery
from common.data.cirr import CIRR, CIRRTriplet
from common.data.corpus import CaptionCorpus, load_hf_captions
from common.data.coverage import check_coverage, coverage
from common.data.errors import DataFormatError
from common.data.fashion200k import Fashion200k, Fashion200kImage, Fashion200kPair
from common.data.fashioniq import FashionIQ, FashionIQTriplet, fiq_caption, fiq_train_variants
from common.data.fashionmt import FashionMT, FashionMTSession
from common.data.genecis import GeneCIS, GeneCISImage, GeneCISTemplate, genecis_crop
from common.data.imagenet import ImageCaptionPair, ImageNetCaptions
from common.data.shoes import Shoes, ShoesTriplet

READERS: dict[str, type[BenchmarkReader]] = {
    "fashioniq": FashionIQ, "shoes": Shoes, "fashion200k": Fashion200k, "cirr": CIRR, "circo": CIRCO,
    "genecis": GeneCIS, "fashionmt": FashionMT, "imagenet": ImageNetCaptions, "corpus": CaptionCorpus,
}
"""Reader class by dataset name (the names ``python -m common.data.verify --dataset`` accepts)."""

__all__ = [
    "BenchmarkReader", "CIRCO", "CIRCOQuery", "CIRR", "CIRRTriplet", "CaptionCorpus", "DataFormatError",
    "Fashion200k", "Fashion200kImage", "Fashion200kPair", "FashionIQ", "FashionIQTriplet", "FashionMT",
    "FashionMTSession", "GeneCIS", "GeneCISImage", "GeneCISTemplate", "ImageCaptionPair", "ImageNetCaptions",
    "ImageRecord", "READERS", "Shoes", "ShoesTriplet", "check_coverage", "coverage", "fiq_caption", "fiq_train_variants", "genecis_crop",
    "load_hf_captions",
]
