"""Datasets: toy problems with known answers, the top-tagging subset, integrands and generator samples."""
