"""Software message catalogs as parallel text: the English messages of a program beside their
translations, read from the gettext `.po` files that ship inside PyPI packages, from JSON message
files (one per locale, message id -> text, as Kolibri's interface keeps them), or from Chromium's
locale `.pak` files (resource id -> text, one file per locale).

A domain unlike scripture: short interface sentences ("Enter a valid email address."). Distillation
mixes some catalogs into its training pairs (`[distill] mixed_domains`); the eval stage keeps another
as an outside test set (`[eval] held_out_domains`). Fuzzy, plural and untranslated entries are
skipped; markup and placeholders (`%(name)s`, `{count}`, `%s`) are removed, since a placeholder copied
on both sides would make a pair trivial to match. ICU plural and select messages (`{n, plural, ...}`)
are skipped too: removing their nested braces would leave fragments.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.sources.packages import Package, fetch


_QTWEBENGINE_LOCALES = "PyQt6/Qt6/translations/qtwebengine_locales"


@dataclass(frozen=True)
class Catalog:
    package: Package
    licence: str
    json_messages: str = ""
    """The package folder holding `<locale>/LC_MESSAGES/*.json` message files, English under `en`;
    empty: the catalog is gettext `.po` files (found under any `locale/` folder)."""
    pak_locales: str = ""
    """The package folder holding Chromium's `<locale>.pak` files (`sw.pak`, `pt-BR.pak`; English:
    `en-US.pak`), the strings paired by resource id."""
    locale_names: tuple[tuple[str, str], ...] = ()
    """(language code, the catalog's name for it) where they differ: Chromium's Tagalog is `fil`."""


CATALOGS = {
    "weblate": Catalog(Package("pypi", "weblate", "5.14.3"), "GPL-3.0-or-later (run-time download, never committed)"),
    "sphinx": Catalog(Package("pypi", "sphinx", "9.0.4"), "BSD-2-Clause"),
    "wagtail": Catalog(Package("pypi", "wagtail", "8.0.1"), "BSD-3-Clause"),
    "django": Catalog(Package("pypi", "django", "5.2.8"), "BSD-3-Clause"),
    # an offline learning platform used in East Africa: thousands of Swahili interface messages. Only
    # its own messages are read; the Django catalogs it bundles (the held-out domain) are not unpacked.
    "kolibri": Catalog(Package("pypi", "kolibri", "0.19.5", only="kolibri/locale"), "MIT",
                       json_messages="kolibri/locale"),
    # the web browser's interface, as Qt WebEngine ships it: about 7,000 Swahili messages, 50 locales.
    "chromium": Catalog(Package("pypi", "pyqt6-webengine-qt6", "6.11.2", only=_QTWEBENGINE_LOCALES),
                        "LGPL-3.0 (run-time download, never committed)", pak_locales=_QTWEBENGINE_LOCALES, locale_names=(("tl", "fil"),)),
}

_ICU_CHOICE = re.compile(r"\{\s*\w+\s*,\s*(plural|select|selectordinal)\s*,")
# Chromium's substitution markers ($1) and menu accelerators (&Open), which .po catalogs do not use.
_CHROMIUM_MARKS = re.compile(r"\$\d|&(?=\w)")
_PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{[^{}]*\}|<[^<>]+>")


def check_names(names: list[str], key: str) -> list[str]:
    return [f"{key}: {name!r} is not a known catalog; expected one of {sorted(CATALOGS)}{did_you_mean(name, CATALOGS)}"
            for name in names if name not in CATALOGS]


def read_po(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) of a .po file's translated singular entries that are not fuzzy or obsolete."""
    entries, entry, field, fuzzy = [], {}, None, False

    def finish():
        if entry.get("msgid") and entry.get("msgstr") and "plural" not in entry and not fuzzy:
            entries.append((entry["msgid"], entry["msgstr"]))

    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line.startswith("#,") and "fuzzy" in line:
            finish()
            entry, field, fuzzy = {}, None, True
        elif line.startswith("#") or not line:
            continue
        elif line.startswith(("msgctxt ", "msgid ")):
            if "msgid" in entry:  # the previous entry is complete (a msgid after a msgctxt is the same entry)
                finish()
                entry, fuzzy = {}, False
            field = line.split(" ", 1)[0]
            entry[field] = _unquote(line.split(" ", 1)[1])
        elif line.startswith("msgid_plural") or line.startswith("msgstr["):
            entry["plural"], field = True, None
        elif line.startswith("msgstr "):
            field = "msgstr"
            entry[field] = _unquote(line.split(" ", 1)[1])
        elif line.startswith('"') and field:
            entry[field] += _unquote(line)
    finish()
    return entries


def _unquote(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return ""
    return value if isinstance(value, str) else ""


def clean(text: str) -> str:
    return " ".join(_PLACEHOLDER.sub(" ", text).split())


def _locale_dirs(names: set[str], code: str, separator: str = "_") -> list[str]:
    """Of the locale names `names`, those for `code`: the code itself first, then its regional variants
    (`pt_BR`; Chromium writes `pt-BR`)."""
    return [n for n in [code] + sorted(n for n in names if n.startswith(code + separator)) if n in names]


def read_pak(path: Path) -> dict[int, str]:
    """Resource id -> text of a Chromium `.pak` file (format 4 or 5); binary resources (gzip-compressed
    pages) are left out."""
    data = Path(path).read_bytes()
    version = struct.unpack_from("<I", data)[0]
    if version == 5:
        count, aliases = struct.unpack_from("<HH", data, 8)
        table = 12
    elif version == 4:
        count, aliases, table = struct.unpack_from("<I", data, 4)[0], 0, 9
    else:
        raise PolyglotError(f"{path}: not a Chromium .pak file of format 4 or 5 (format {version})")
    entries = [struct.unpack_from("<HI", data, table + 6 * i) for i in range(count + 1)]  # last: end marker
    raw = {rid: data[start:end] for (rid, start), (_, end) in zip(entries, entries[1:])}
    alias_table = table + 6 * (count + 1)
    for i in range(aliases):  # an alias shares another entry's bytes
        rid, index = struct.unpack_from("<HH", data, alias_table + 4 * i)
        raw[rid] = raw[entries[index][0]]
    texts = {}
    for rid, value in raw.items():
        try:
            texts[rid] = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def read_json_messages(folder: Path) -> dict[str, str]:
    """Message id -> text of every JSON message file in `folder`, files in name order."""
    messages = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        messages.update((k, v) for k, v in data.items() if isinstance(v, str))
    return messages


def _raw_pairs(catalog: Catalog, root: Path, code: str) -> list[list[tuple[str, str]]]:
    """The catalog's (English, translation) messages for each locale folder of `code`, in preference order."""
    code = dict(catalog.locale_names).get(code, code)
    if catalog.pak_locales:
        base = root / catalog.pak_locales
        english = read_pak(base / "en-US.pak")
        unmarked = lambda text: _CHROMIUM_MARKS.sub("", text)  # noqa: E731
        return [[(unmarked(english[k]), unmarked(t)) for k, t in read_pak(base / f"{locale}.pak").items() if k in english]
                for locale in _locale_dirs({p.stem for p in base.glob("*.pak")}, code, separator="-")]
    if catalog.json_messages:
        base = root / catalog.json_messages
        names = {p.parent.name for p in base.glob("*/LC_MESSAGES")}
        english = read_json_messages(base / "en" / "LC_MESSAGES")
        return [[(english[k], t) for k, t in read_json_messages(base / locale / "LC_MESSAGES").items() if k in english]
                for locale in _locale_dirs(names, code)]
    names = {p.parent.name for p in root.glob("**/locale/*/LC_MESSAGES")}
    return [[pair for po in sorted(root.glob(f"**/locale/{locale}/LC_MESSAGES/*.po")) for pair in read_po(po)]
            for locale in _locale_dirs(names, code)]


def _is_icu_choice(text: str) -> bool:
    return bool(_ICU_CHOICE.search(text))


@functools.lru_cache(maxsize=32)
def pairs(name: str, code: str, min_words: int = 1) -> tuple[tuple[str, str], ...]:
    """English -> `code` message pairs of catalog `name` (its first locale folder for the code that holds
    translations), cleaned, with at least `min_words` English words, each English and each translated
    message once."""
    if name not in CATALOGS:
        raise PolyglotError(check_names([name], "catalog")[0])
    catalog = CATALOGS[name]
    for found in _raw_pairs(catalog, fetch(catalog.package), code):
        seen_source, seen_target, out = set(), set(), []
        for raw_s, raw_t in found:
            if _is_icu_choice(raw_s) or _is_icu_choice(raw_t):
                continue
            s, t = clean(raw_s), clean(raw_t)
            if len(s.split()) >= min_words and t and s != t and s not in seen_source and t not in seen_target:
                seen_source.add(s)
                seen_target.add(t)
                out.append((s, t))
        if out:
            return tuple(out)
    return ()
