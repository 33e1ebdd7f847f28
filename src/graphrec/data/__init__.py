"""Importers (MovieLens, LightGCN, events CSV/Parquet) and the synthetic generator."""
