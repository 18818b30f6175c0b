"""Shared foundations: errors, paths, the one Registry class, atomic files and hashes, model loading, pooling."""
