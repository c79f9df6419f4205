"""The key names sort by: dictionary order for French readers, by plain code-point comparison."""

import pytest

from reader.collation import sort_key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Émilie", "emilie"),
        ("éric", "eric"),
        ("ERIC", "eric"),
        ("Œdipe", "oedipe"),
        ("Lætitia", "laetitia"),
        ("Ángel", "angel"),
        ("François-Xavier", "francois xavier"),
        ("L'Équipe", "l equipe"),
        ("L’Équipe", "l equipe"),
        ("« Le Monde »", "le monde"),
        ('"Libé"', "libe"),
        ("'Zola'", "zola"),
        ("…et après", "et apres"),
        ("@ana@mastodon.example", "ana mastodon example"),
        ("  Ana   Lima ", "ana lima"),
        ("Straße", "strasse"),
        ("Søren", "soren"),
        ("Łukasz", "lukasz"),
        ("ﬁlms", "films"),  # a ligature NFKD spells out
        ("Ｚｏé", "zoe"),  # full-width letters
        ("2 chevaux", "2 chevaux"),
        ("☕", "☕"),  # nothing but a symbol: kept, not ""
        ("", ""),
    ],
)
def test_names_fold_to_their_dictionary_form(name, key):
    assert sort_key(name) == key


def test_french_names_sort_in_dictionary_order():
    names = ["Zoé", "Émilie", "éric", "Eric", "Œdipe", "« Le Monde »", "Ángel", "zack"]
    # sorted() is stable: the two Erics keep the order they came in (the store breaks ties by id).
    assert sorted(names, key=sort_key) == ["Ángel", "Émilie", "éric", "Eric", "« Le Monde »", "Œdipe", "zack", "Zoé"]


def test_the_key_is_stable_and_never_raises():
    for value in ["\u0301", "\x00", "a\u0300\u0301b", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "İ", None, 42]:
        key = sort_key(value)
        assert isinstance(key, str) and sort_key(value) == key
