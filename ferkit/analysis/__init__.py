"""Interpretation of trained models. Every function here returns NumPy arrays or dicts;
drawing lives in `figures.py`, and only the CLI writes files."""
