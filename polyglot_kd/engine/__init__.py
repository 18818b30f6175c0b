"""The training engine (checkpoints, resume, curves) and the one step-indexed, length-bucketed batcher."""
