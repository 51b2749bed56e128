"""SPIRIT data adapters: triplets from common.data readers joined with cached frozen-CLIP features."""
