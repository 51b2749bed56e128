"""One writer per benchmark: each lays out synthetic data exactly as the real benchmark's files."""
