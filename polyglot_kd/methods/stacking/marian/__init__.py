"""Marian MT models: the reader of Marian's binary files and the PyTorch port of its encoder and decoder."""
