"""Report file names live here: what the eval stage, `polyglot-kd eval`, the leaderboard and a release
write, named once, so the writers (the pipeline) and the readers (reports) cannot drift apart.

Layout of a build (`<workdir>/<lang>/`): `eval/report.json` and `eval/report.md` (the eval stage),
`tasks/<model>/<task>.<language>.<method>.json` (one result file each, see `polyglot_kd.tasks.results`),
`release/manifest.json` and `release/<name>/` (the release folder).
"""

EVAL_DIR = "eval"  # <workdir>/<lang>/eval/: the eval stage's folder
REPORT_JSON = "report.json"  # every model's scores and sizes
REPORT_MD = "report.md"  # the same as Markdown tables (also printed)
TASK_RESULTS_DIR = "tasks"  # <workdir>/<lang>/tasks/<model>/: one JSON per (task, language, method)
RELEASE_DIR = "release"  # <workdir>/<lang>/release/: the release stage's folder
MANIFEST = "manifest.json"  # a stage folder's record, written last

LEADERBOARD_MD, LEADERBOARD_CSV, LEADERBOARD_HTML = "leaderboard.md", "leaderboard.csv", "leaderboard.html"
SIZE_PLOT, BARS_PLOT = "leaderboard-size.png", "leaderboard-languages.png"
LEADERBOARD_RESULTS = "results"  # <out>/results/<build>.json: the inputs a leaderboard was rendered from

# inside a release folder
CARD = "README.md"
CHECKSUMS = "SHA256SUMS"
ARTIFACTS = "artifacts"  # builds/<lang>/<stage>/artifacts/<name>/ -> <release>/artifacts/<stage>/<name>/
