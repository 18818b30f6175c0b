"""Reports from result files: tables, summary, leaderboard, model card, browser screenshots."""
