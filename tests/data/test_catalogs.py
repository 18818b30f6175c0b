import json

import pytest

from polyglot_kd.config import parse_config
from polyglot_kd.data import catalogs, corpora
from polyglot_kd.data.catalogs import clean, read_po

REAL_PAIRS = catalogs.pairs  # the conftest replaces it for tests that are not marked real

PO = r'''
# header
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"

#: forms.py:10
#, python-format
msgid "Enter a valid value for %(field)s."
msgstr "Introduza um valor válido para %(field)s."

#, fuzzy
msgid "This guess is fuzzy."
msgstr "Isto é um palpite."

msgid "One item"
msgid_plural "%d items"
msgstr[0] "Um item"
msgstr[1] "%d itens"

msgctxt "button"
msgid "Save"
msgstr "Guardar"

msgid "Untranslated here"
msgstr ""

msgid ""
"A message that runs over "
"two lines."
msgstr "Uma mensagem em "
"duas linhas."

#~ msgid "Obsolete"
#~ msgstr "Obsoleto"
'''


def test_po_entries_singular_translated_and_not_fuzzy():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "django.po"
        path.write_text(PO, encoding="utf-8")
        entries = read_po(path)
    assert entries == [("Enter a valid value for %(field)s.", "Introduza um valor válido para %(field)s."),
                       ("Save", "Guardar"), ("A message that runs over two lines.", "Uma mensagem em duas linhas.")]


def test_placeholders_and_markup_are_removed():
    assert clean("Delete <b>%(name)s</b> and {count} more, %s left") == "Delete and more, left"


@pytest.fixture
def fake_catalogs(tmp_path, monkeypatch):
    """Two catalog packages with pt_BR messages, in place of the PyPI downloads."""
    for name, messages in (("django", [("Enter a valid email address.", "Informe um endereço de email válido."),
                                       ("This field is required here.", "Este campo é obrigatório aqui.")]),
                           ("weblate", [("Enter a valid email address.", "Informe um endereço de email válido."),
                                        ("Your account has been removed.", "Sua conta foi removida."),
                                        ("Save", "Salvar")])):
        folder = tmp_path / name / name / "locale" / "pt_BR" / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "django.po").write_text("\n".join(f'msgid "{s}"\nmsgstr "{t}"\n' for s, t in messages), encoding="utf-8")
    monkeypatch.setattr(catalogs, "fetch", lambda package: tmp_path / package.name)
    monkeypatch.setattr(catalogs, "pairs", REAL_PAIRS)
    REAL_PAIRS.cache_clear()
    yield
    REAL_PAIRS.cache_clear()


def test_a_held_out_catalog_is_tested_and_kept_out_of_the_mixed_in_training_pairs(fake_catalogs, tiny_world, monkeypatch):
    monkeypatch.setattr(catalogs, "pairs", REAL_PAIRS)  # tiny_world's stand-ins hide the catalogs again
    config, _ = tiny_world
    data = config.to_dict()
    data["distill"]["mixed_domains"] = ["weblate"]
    data["eval"]["held_out_domains"] = ["django"]
    config = parse_config(data)
    tests = corpora.test_sets(config)
    assert len(tests["django-messages"]) == 2  # the region variant pt_BR serves pt
    mixed = corpora.distill_text(config)
    plain = corpora.train_text(config)
    # the email message is a django test sentence: only the other two weblate pairs join the training pairs
    assert mixed.mixed_in == {"weblate": 2} and len(mixed.pairs) == len(plain.pairs) + 2
    assert "Enter a valid email address." not in mixed.pairs.source
    assert mixed.counting == plain.counting  # the vocabulary is counted on the corpus alone
    assert mixed.record()["mixed_in"] == {"weblate": 2}


def test_unknown_catalog_names_are_named_with_the_known_ones():
    with pytest.raises(Exception) as err:
        parse_config({"code": "pt", "distill": {"mixed_domains": ["weblat"]}, "eval": {"held_out_domains": ["djngo"]}})
    text = str(err.value)
    assert "distill.mixed_domains: 'weblat' is not a known catalog" in text and "did you mean 'weblate'" in text
    assert "eval.held_out_domains: 'djngo'" in text


def test_json_message_catalogs_pair_by_message_id_and_skip_icu_choices(tmp_path, monkeypatch):
    """A Kolibri-like catalog: JSON files per locale; the region variant sw_TZ serves sw."""
    messages = {"en": {"a": "Search by keyword", "b": "Welcome, {name}!", "c": "{n, plural, one {item} other {items}}",
                       "d": "Only in English"},
                "sw_TZ": {"a": "Tafuta ukitumia neno kuu", "b": "Karibu, {name}!", "c": "{n, plural, other {vitu}}",
                          "e": "Hakuna Kiingereza"}}
    for locale, data in messages.items():
        folder = tmp_path / "kolibri" / "kolibri" / "locale" / locale / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "app-messages.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(catalogs, "fetch", lambda package: tmp_path / package.name)
    monkeypatch.setattr(catalogs, "pairs", REAL_PAIRS)
    REAL_PAIRS.cache_clear()
    try:
        assert catalogs.pairs("kolibri", "sw") == (("Search by keyword", "Tafuta ukitumia neno kuu"), ("Welcome, !", "Karibu, !"))
        assert catalogs.pairs("kolibri", "sw", min_words=3) == (("Search by keyword", "Tafuta ukitumia neno kuu"),)
        assert catalogs.pairs("kolibri", "pt") == ()
    finally:
        REAL_PAIRS.cache_clear()


def test_a_package_can_unpack_one_folder_only(tmp_path):
    import zipfile

    from polyglot_kd.sources.packages import _unpack

    archive = tmp_path / "big.whl"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kolibri/locale/sw_TZ/LC_MESSAGES/a.json", "{}")
        zf.writestr("kolibri/locale-other/x.txt", "no")
        zf.writestr("kolibri/dist/django/conf/locale/sw/LC_MESSAGES/django.po", "")
    _unpack(archive, tmp_path / "out", only="kolibri/locale")
    assert [str(p.relative_to(tmp_path / "out")) for p in sorted((tmp_path / "out").rglob("*")) if p.is_file()] == \
        ["kolibri/locale/sw_TZ/LC_MESSAGES/a.json"]


def _write_pak(path, resources: dict[int, bytes], aliases: dict[int, int] = {}, version: int = 5):
    """A Chromium .pak file: header, (id, offset) table with an end marker, aliases (v5), then the data."""
    import struct

    ids = sorted(resources)
    header = struct.pack("<IB3xHH", 5, 1, len(ids), len(aliases)) if version == 5 else struct.pack("<IIB", 4, len(ids), 1)
    offset = len(header) + 6 * (len(ids) + 1) + 4 * len(aliases)
    table, data = b"", b""
    for rid in ids:
        table += struct.pack("<HI", rid, offset + len(data))
        data += resources[rid]
    table += struct.pack("<HI", 0, offset + len(data))
    alias_table = b"".join(struct.pack("<HH", rid, ids.index(target)) for rid, target in aliases.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + table + alias_table + data)


@pytest.mark.parametrize("version", [4, 5])
def test_chromium_pak_catalogs_pair_by_resource_id(tmp_path, monkeypatch, version):
    """Chromium's locale files: the region variant pt-BR serves pt; $1 markers and & accelerators go,
    compressed (binary) resources and ICU plurals are skipped; an alias (v5) shares its target's text."""
    import gzip

    base = tmp_path / "pyqt6-webengine-qt6" / catalogs.CATALOGS["chromium"].pak_locales
    english = {10: b"Open $1 in a new &tab", 11: gzip.compress(b"<html>page</html>"), 12: b"Sign in to Chromium",
               13: "{COUNT, plural, =1 {One tab} other {# tabs}}".encode()}
    portuguese = {10: "Abrir $1 num novo &separador".encode(), 11: gzip.compress(b"<html>pagina</html>"),
                  12: "Iniciar sessão no Chromium".encode(), 13: "{COUNT, plural, other {# guias}}".encode()}
    _write_pak(base / "en-US.pak", english, version=version)
    aliases = {14: 12} if version == 5 else {}
    _write_pak(base / "pt-BR.pak", portuguese, aliases, version=version)
    _write_pak(base / "sw.pak", {10: b"Fungua $1 katika kichupo kipya"}, version=version)
    _write_pak(base / "fil.pak", {12: b"Mag-sign in sa Chromium"}, version=version)

    pages = catalogs.read_pak(base / "pt-BR.pak")
    assert 11 not in pages and pages[12] == "Iniciar sessão no Chromium"
    assert pages.get(14) == (pages[12] if version == 5 else None)
    monkeypatch.setattr(catalogs, "fetch", lambda package: tmp_path / package.name)
    monkeypatch.setattr(catalogs, "pairs", REAL_PAIRS)
    REAL_PAIRS.cache_clear()
    try:
        assert catalogs.pairs("chromium", "pt") == (("Open in a new tab", "Abrir num novo separador"),
                                                    ("Sign in to Chromium", "Iniciar sessão no Chromium"))
        assert catalogs.pairs("chromium", "sw", min_words=4) == (("Open in a new tab", "Fungua katika kichupo kipya"),)
        assert catalogs.pairs("chromium", "tl") == (("Sign in to Chromium", "Mag-sign in sa Chromium"),)  # Chromium: fil
        assert catalogs.pairs("chromium", "de") == ()
    finally:
        REAL_PAIRS.cache_clear()


def test_a_file_that_is_not_a_pak_is_named(tmp_path):
    (tmp_path / "x.pak").write_bytes(b"\x07\x00\x00\x00" + b"\x00" * 20)
    with pytest.raises(catalogs.PolyglotError, match=r"x\.pak: not a Chromium \.pak file of format 4 or 5 \(format 7\)"):
        catalogs.read_pak(tmp_path / "x.pak")
