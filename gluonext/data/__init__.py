"""Datasets, one module per family (segmentation, ...), and the transforms they share."""
