from watchers.kube.rv import rv_newer, rv_orderable


def test_plain_integers_are_orderable():
    assert rv_orderable("0")
    assert rv_orderable("12746")


def test_leading_zeros_signs_and_other_text_are_not_orderable():
    for rv in ("007", "00", "-5", "+5", "1e3", "abc-7", "", " 12", "١٢"):
        assert not rv_orderable(rv), rv


def test_equal_versions_are_never_newer_even_when_opaque():
    assert rv_newer("abc-7", "abc-7") is False
    assert rv_newer("10", "10") is False


def test_integers_compare_numerically_not_as_text():
    assert rv_newer("10", "9") is True
    assert rv_newer("9", "10") is False


def test_different_versions_that_are_not_both_integers_cannot_be_ordered():
    assert rv_newer("abc-7", "abc-8") is None
    assert rv_newer("10", "abc-8") is None
    assert rv_newer("010", "9") is None
