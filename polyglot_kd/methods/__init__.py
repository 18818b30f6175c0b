"""The compression methods: pure torch / tokenizers / transformers code, objects in and objects out.

Each folder owns its config dataclass and its citation; none imports the pipeline or the reports.
"""
