"""Reports from result files: tables, summary, leaderboard, model card, release folders, browser
screenshots. Nothing here imports the pipeline; file names are in `files.py`."""
