"""Share of <unk> tokens on a symbol-rich sample (URLs, prices, percentages, e-mail, HTML, emoji),
for the teacher and each given trimmed model, side by side.

    python scripts/unk_share.py builds/pt/trim/model [OTHER_MODEL_DIR ...]
"""

from __future__ import annotations

import argparse

from polyglot_kd.core.loading import load_tokenizer
from polyglot_kd.sources.teacher import resolve_teacher

SAMPLE = [
    "Desconto de 50% hoje só na loja!", "https://exemplo.com/a_b?x=1&y=2#topo", "R$ 12,50 + 3 € / £ ¥ = ?",
    "“aspas” — travessão # @ < > { } \\ | ~ ^ `", "Escreva para ana.silva+loja@exemplo.com.br",
    "<div class=\"preço\">R$ 1.299,00</div>", "Parabéns!!! 🎉😀👍 ❤️ ✔ ★", "Temperatura: 25 °C ± 2; 3×4 ≠ 11 ≤ 12 → ok",
    "Em 2024, 7,5% dos 1.000.000 usuários…", "Veja <a href='https://x.org/?q=a&b'>aqui</a> © 2025 ™ §4",
    "Preço: US$ 9.99 | ¥1,200 | ₹ 450 | ₩ 3,000 | ₿ 0.01", "Oi!! 😂😂 tudo bem? 🤔 #segunda @maria",
]


def unk_share(tokenizer, texts: list[str]) -> tuple[int, int]:
    ids = [i for t in texts for i in tokenizer(t, add_special_tokens=False)["input_ids"]]
    return sum(i == tokenizer.unk_token_id for i in ids), len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="trimmed model directories")
    parser.add_argument("--teacher", default="e5-small")
    args = parser.parse_args()
    print("| model | <unk> tokens | tokens | share |\n|---|---|---|---|")
    for name, path in [("teacher", resolve_teacher(args.teacher))] + [(m, m) for m in args.models]:
        unk, total = unk_share(load_tokenizer(path), SAMPLE)
        print(f"| {name} | {unk} | {total} | {100 * unk / total:.2f}% |")


if __name__ == "__main__":
    main()
