from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from exchange.errors import DocumentError
from exchange.safexml import MAX_BYTES, parse_document


def refusal(data: bytes, **limits: int) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        parse_document(data, **limits)
    return caught.value


def nested(depth: int) -> bytes:
    return b"<a>" * depth + b"</a>" * depth


def test_parses_to_root_element_keeping_comments_and_line_numbers() -> None:
    root = parse_document(b'<?xml version="1.0"?>\n<d xmlns="urn:x">\n  <!-- note -->\n  <e>1</e>\n</d>')
    assert root.tag == "{urn:x}d"
    assert isinstance(root[0], etree._Comment)
    assert root[1].sourceline == 4


def test_billion_laughs_is_refused_as_dtd() -> None:
    entities = b"".join(
        b'<!ENTITY lol%d "%s">' % (level, (b"&lol%d;" % (level - 1)) * 10) for level in range(1, 10)
    )
    data = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">' + entities + b"]><lolz>&lol9;</lolz>"
    assert refusal(data).rule == "xml-dtd"


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><d>&xxe;</d>',
        b'<!DOCTYPE d [<!ENTITY % pe SYSTEM "http://127.0.0.1:9/evil.dtd"> %pe;]><d/>',
        b'<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd"><d/>',
        b"<!DOCTYPE d><d/>",
    ],
    ids=["external-entity", "external-parameter-entity", "external-dtd", "bare-doctype"],
)
def test_any_doctype_is_refused(data: bytes) -> None:
    error = refusal(data)
    assert error.rule == "xml-dtd"
    assert "root:" not in error.message


def test_undeclared_entity_is_malformed() -> None:
    assert refusal(b"<d>&xxe;</d>").rule == "xml-malformed"


def test_depth_limit_is_inclusive() -> None:
    assert parse_document(nested(64)).tag == "a"
    error = refusal(nested(65))
    assert error.rule == "xml-depth"
    assert error.path.count("/a") == 65


def test_depth_limit_is_configurable_and_ignores_comments() -> None:
    assert parse_document(b"<a><b><!-- c --><?pi x?></b></a>", max_depth=2).tag == "a"
    assert refusal(b"<a><b><c/></b></a>", max_depth=2).rule == "xml-depth"


def test_depth_beyond_libxml2_limit_is_still_reported_as_depth() -> None:
    assert refusal(nested(300)).rule == "xml-depth"


def test_oversize_is_refused_before_parsing() -> None:
    assert refusal(b"x" * (MAX_BYTES + 1)).rule == "xml-size"
    assert refusal(b"<d>12345</d>", max_bytes=10).rule == "xml-size"


def test_malformed_names_line_and_column() -> None:
    error = refusal(b"<d>\n  <e></d>")
    assert error.rule == "xml-malformed"
    assert "line 2, column" in error.message


def test_empty_input_is_malformed() -> None:
    assert refusal(b"").rule == "xml-malformed"


@settings(max_examples=200)
@given(st.binary(max_size=200) | st.text(alphabet="<>/a!&;[]?\"'= -DOCTYPE", max_size=60).map(str.encode))
def test_arbitrary_bytes_give_a_tree_or_a_document_error(data: bytes) -> None:
    try:
        parse_document(data)
    except DocumentError as error:
        assert error.rule in {"xml-malformed", "xml-dtd", "xml-depth"}
