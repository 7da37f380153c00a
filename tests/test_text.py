"""grader.text: student text made valid, free of control characters and capped."""

from grader.text import clean, clean_name, valid_unicode


def test_lone_surrogates_become_the_replacement_character():
    assert valid_unicode("a\udcffb\ud800") == "a\ufffdb\ufffd"
    assert clean("x\udcff").encode("utf-8") == "x\ufffd".encode("utf-8")


def test_control_characters_escapes_and_bidi_overrides_are_removed():
    assert clean("a\x1b[31mred\x1b[0m\x07\x00b\u202eevil") == "aredbevil"
    assert clean("keep\ttabs\nand lines") == "keep\ttabs\nand lines"
    assert clean_name("two\nlines\tand\rreturns") == "two lines and returns"
    assert clean_name(b"ann\xff.py") == "ann\ufffd.py"


def test_text_is_capped_with_a_visible_cut():
    assert clean("x" * 10, 5) == "xxxx…" and clean("short", 5) == "short"
