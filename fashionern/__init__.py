"""FashionERN (AAAI 2024): TME + DVR composed fashion image retrieval on the shared core."""
