"""FashionERN data: benchmark adapters over `common.data` and frozen-CLIP feature stores."""
