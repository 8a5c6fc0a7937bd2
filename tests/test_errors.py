from trephine import __version__
from trephine.errors import ImportRejected, Issue, Location, Severity, ValidationError


def test_version_is_set() -> None:
    assert __version__ and __version__ != "0.0.0+unknown"


def test_validation_error_names_field_value_and_allowed() -> None:
    err = ValidationError(
        "site", "knee", ["posterior iliac crest", "sternum"], location=Location("p.csv", row=3)
    )
    text = str(err)
    assert "p.csv" in text and "row 3" in text
    assert "site" in text and "'knee'" in text and "sternum" in text


def test_import_rejected_lists_errors_only() -> None:
    issues = [
        Issue(Severity.ERROR, "bad-value", "x", Location("f.csv", row=2, column="a")),
        Issue(Severity.WARNING, "odd", "y", Location("f.csv", row=3)),
    ]
    text = str(ImportRejected("f.csv", issues))
    assert "nothing imported" in text and "row 2" in text and "row 3" not in text


def test_validation_error_shows_numbers_as_written() -> None:
    from decimal import Decimal

    text = str(ValidationError("bm_blasts_pct", Decimal("140"), "0–100 %"))
    assert "140 is not allowed" in text and "Decimal" not in text
