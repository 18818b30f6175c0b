"""Task heads' training and prediction paths, one per task kind (token, sequence, extractive QA)."""
