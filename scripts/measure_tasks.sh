#!/usr/bin/env bash
# The task-suite figures of the README (issue 4): POS zero-shot en->tr/id with LT-SFT and adapters,
# 3 seeds, for the teacher and the trimmed pt/sw/tr models; retrieval and mining for seven languages.
# Needs the trim stage of each build: polyglot-kd build LANG --stages trim,eval
# Seeds already run are cached (~/.cache/polyglot-kd/task-runs), so a rerun only does what is missing.
set -euo pipefail
for method in lt-sft adapters; do
  polyglot-kd eval pt --tasks pos --method "$method" --models teacher,trim
  polyglot-kd eval sw --tasks pos --method "$method" --models trim
  polyglot-kd eval tr --tasks pos --method "$method" --models trim --languages tr,id
done
for lang in pt sw de fr es ru tr; do
  polyglot-kd eval "$lang" --tasks retrieval,mining
done
polyglot-kd summary --tasks
