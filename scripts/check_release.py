"""Check a release folder the way a user would get it: offline, with AutoModel and SentenceTransformer.

    python scripts/check_release.py pt [--workdir builds] [--folder PATH]

Verifies SHA256SUMS, loads the folder with no network (HF_HUB_OFFLINE=1 and every socket connection
refused), compares the two libraries' embeddings, re-runs the language's retrieval evaluation with both,
and compares the scores with the model-index of the card. Exits 1 if a score is more than 0.1 points
off the card's or the embeddings differ.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: it reads this once
os.environ["TRANSFORMERS_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOLERANCE = 0.1  # points of accuracy (%)


def refuse(*args, **kwargs):
    raise OSError("network use while checking a release offline")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("language")
    parser.add_argument("--workdir", type=Path, default=Path("builds"))
    parser.add_argument("--folder", type=Path, help="release folder (default: the build's release stage output)")
    args = parser.parse_args()

    import numpy as np
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    from polyglot_kd.pipeline.build import Build
    from polyglot_kd.config import load_language
    from polyglot_kd.core.pooling import encode
    from polyglot_kd.reports.model_card import card_scores
    from polyglot_kd.reports.release import verify_release
    from polyglot_kd.pipeline.release import rescore
    from polyglot_kd.pipeline.stages.release import release_folder
    from polyglot_kd.tasks import retrieval

    config = load_language(args.language)
    folder = args.folder or release_folder(Build(config, args.workdir / config.code))
    print(f"release folder: {folder}")
    print(f"SHA256SUMS: {verify_release(folder)} files match")
    datasets = retrieval.datasets(config)  # the corpora come from the local package cache, not the network

    socket.socket.connect = refuse  # from here on, any network access fails loudly
    socket.create_connection = refuse

    start = time.perf_counter()
    model, tokenizer = AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    print(f"loaded offline with AutoModel ({type(model).__name__}) and SentenceTransformer "
          f"({' -> '.join(type(m).__name__ for m in st)}) in {time.perf_counter() - start:.1f} s")

    kwargs = dict(batch_size=config.eval.batch_size, max_length=config.eval.max_length, prefix=config.eval.prefix)
    card = card_scores(folder / "README.md")
    with_st = rescore(folder, config)
    ok = True
    print(f"\n| dataset | pairs | card | AutoModel + mean pooling | SentenceTransformer | max embedding difference |")
    print("|---|---|---|---|---|---|")
    for data in datasets:
        auto = [encode(model, tokenizer, list(texts), **kwargs) for texts in (data.source, data.target)]
        st_emb = [st.encode(list(texts), batch_size=config.eval.batch_size, convert_to_numpy=True) for texts in (data.source, data.target)]
        diff = max(float(np.abs(a - b).max()) for a, b in zip(auto, st_emb))
        with_auto = 100 * retrieval.accuracy(*auto)["mean"]
        stated = card.get(data.name)
        print(f"| {data.name} | {len(data)} | {'-' if stated is None else f'{stated:.2f}'} | {with_auto:.2f} | {with_st[data.name]:.2f} | {diff:.1e} |")
        if stated is None or abs(with_auto - stated) > TOLERANCE or abs(with_st[data.name] - stated) > TOLERANCE or diff > 1e-4:
            ok = False
    print("\nOK: both libraries reproduce the card within 0.1 points" if ok else "\nMISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
