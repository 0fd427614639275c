"""caravan's CATS schemas against the official NCTS P5 (51.8.6) schemas, used as an external oracle.

The official schemas are reference material beside the project (`../shared/reference/ncts-p5-xsd/`), not
part of it: these tests skip, saying so, where they are absent (a fresh clone). Where they are present they
prove three things:

1. structure: for every P5 trader message caravan has a schema of, the element paths, their order, min/max
   occurrences and simple-type facets are the same in caravan's schema as in the official one;
2. caravan's own CC messages, as its codec writes them and as they travel in a signed envelope, are valid
   against the official schema as written: their signature is the envelope's, nothing is stripped;
3. P5 messages in the style of HMRC's trader test pack (tests/data/p5/) are valid against both, and
   `caravan validate` accepts them; a schema-invalid one is refused with its path.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from exchange.cli import main
from exchange.envelope import Envelope
from exchange.pki import ScenarioPKI
from nodes.customs.codec import encode
from nodes.customs.model import MESSAGE_NAMES
from nodes.declarant import FOLLOW_UPS, OPENERS
from tests import cats_samples

ROOT = Path(__file__).resolve().parent.parent
OFFICIAL = ROOT.parent / "shared" / "reference" / "ncts-p5-xsd"
CATS = ROOT / "schemas" / "cats"
FIXTURES = Path(__file__).resolve().parent / "data" / "p5"
XS = "{http://www.w3.org/2001/XMLSchema}"
DSIG = "{http://www.w3.org/2000/09/xmldsig#}"

pytestmark = pytest.mark.skipif(
    not OFFICIAL.is_dir(), reason=f"the official P5 schemas are not at {OFFICIAL} (reference material, not shipped)"
)

P5_CODES = sorted(
    path.stem.upper() for path in CATS.glob("cc*.xsd") if OFFICIAL.is_dir() and (OFFICIAL / path.name).is_file()
)
"""caravan's CC messages the official 51.8.6 set has a schema for: not CC140C/CC141C, which P5 has (HMRC's 51.8.0
set had their schemas) but this set dropped, so caravan's own schemas stand alone for those two."""


@cache
def official(code: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OFFICIAL / f"{code.lower()}.xsd")))


@cache
def caravan(code: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(CATS / f"{code.lower()}.xsd")))


def official_errors(root: etree._Element) -> list[str]:
    checker = official(etree.QName(root).localname)
    checker.validate(root)
    return [f"{entry.path}: {entry.message}" for entry in checker.error_log]


# --- 1. structure


def _facets(simple: xmlschema.validators.XsdSimpleType) -> tuple:
    """A simple type as what it accepts: the built-in base, the facets and every pattern over its derivation."""
    facets: dict[str, str] = {}
    patterns: set[str] = set()
    enumeration: tuple[str, ...] | None = None
    step = simple
    while step is not None and not (step.name or "").startswith(XS):
        for name, facet in (getattr(step, "facets", None) or {}).items():
            local = (name or "").split("}")[-1]
            if local == "pattern":
                patterns.update(facet.regexps)
            elif local == "enumeration":
                enumeration = enumeration or tuple(sorted(facet.enumeration))
            elif local:
                facets.setdefault(local, str(facet.value))
        step = step.base_type
    base = step.local_name if step is not None else None
    return base, tuple(sorted(facets.items())), tuple(sorted(patterns)), enumeration


def _paths(element: xmlschema.validators.XsdElement, path: str) -> list[tuple]:
    kind = element.type
    simple = kind if kind.is_simple() else kind.content if kind.has_simple_content() else None
    rows = [(path, element.min_occurs, element.max_occurs, _facets(simple) if simple is not None else None)]
    if simple is None:
        for child in kind.content.iter_elements():
            if child.name and child.name.startswith(DSIG):
                continue
            if isinstance(child, xmlschema.validators.XsdAnyElement):
                continue
            rows += _paths(child, f"{path}/{child.local_name}")
    return rows


@pytest.fixture(scope="module")
def official_model(tmp_path_factory: pytest.TempPathFactory) -> xmlschema.XMLSchema11:
    """All official message schemas in one XSD 1.1 model: they share ctypes.xsd, which loads once."""
    wrapper = tmp_path_factory.mktemp("p5") / "all.xsd"
    includes = "".join(f'<xs:include schemaLocation="{(OFFICIAL / f"{c.lower()}.xsd").as_uri()}"/>' for c in P5_CODES)
    wrapper.write_text(
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://ncts.dgtaxud.ec">'
        f"{includes}</xs:schema>"
    )
    return xmlschema.XMLSchema11(str(wrapper))


@pytest.fixture(scope="module")
def caravan_model() -> xmlschema.XMLSchema10:
    includes = "".join(f'<xs:include schemaLocation="{(CATS / f"{c.lower()}.xsd").as_uri()}"/>' for c in P5_CODES)
    source = (
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://ncts.dgtaxud.ec">'
        f"{includes}</xs:schema>"
    )
    return xmlschema.XMLSchema10(source, base_url=str(CATS))


def test_caravan_has_a_flow_for_every_p5_trader_message_it_has_a_schema_of() -> None:
    new = {"CC004C", "CC013C", "CC043C", "CC044C", "CC060C", "CC170C", "CC182C"}
    assert new <= set(P5_CODES) <= set(MESSAGE_NAMES)
    assert len(P5_CODES) == 22


@pytest.mark.parametrize("code", P5_CODES)
def test_structure_matches_the_official_schema(code: str, official_model, caravan_model) -> None:
    theirs = _paths(official_model.elements[code], f"/{code}")
    ours = _paths(caravan_model.elements[code], f"/{code}")
    assert [row[0] for row in ours] == [row[0] for row in theirs]  # names and order
    assert ours == theirs  # cardinalities and value spaces


HMRC_51_8_0_ROOTS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "CC140C": (
        ("TransitOperation", "TransitOperationType23", True),
        ("CustomsOfficeOfDeparture", "CustomsOfficeOfDepartureType03", True),
        ("CustomsOfficeOfEnquiryAtDeparture", "CustomsOfficeOfEnquiryAtDepartureType01", True),
        ("HolderOfTheTransitProcedure", "HolderOfTheTransitProcedureType20", True),
    ),
    "CC141C": (
        ("TransitOperation", "TransitOperationType43", True),
        ("CustomsOfficeOfDestinationActual", "CustomsOfficeOfDestinationActualType01", False),
        ("CustomsOfficeOfEnquiryAtDeparture", "CustomsOfficeOfEnquiryAtDepartureType01", True),
        ("HolderOfTheTransitProcedure", "HolderOfTheTransitProcedureType19", True),
        ("Enquiry", "EnquiryType01", False),
        ("Consignment", "ConsignmentType07", False),
    ),
}
"""The root of HMRC's 51.8.0 CC140C and CC141C (hmrc/transit-movements-validator, conf/xsd/): after the MESSAGE
group, each data group by name, type and whether it is required. The official 51.8.6 set dropped these two
message schemas but kept the types they are built of (its ctypes.xsd lists CC140C and CC141C among their users),
so the oracle rebuilds the two messages from those types."""


@pytest.fixture(scope="module")
def hmrc_enquiry_model(tmp_path_factory: pytest.TempPathFactory) -> xmlschema.XMLSchema11:
    roots = []
    for code, groups in HMRC_51_8_0_ROOTS.items():
        elements = "".join(f'<xs:element name="{name}" type="{kind}" minOccurs="{int(required)}"/>'
                           for name, kind, required in groups)
        roots.append(f'<xs:element name="{code}" type="{code}Type"/><xs:complexType name="{code}Type"><xs:sequence>'
                     f'<xs:group ref="MESSAGE"/>{elements}</xs:sequence>'
                     f'<xs:attribute name="PhaseID" type="phaseIDtype"/></xs:complexType>')
    wrapper = tmp_path_factory.mktemp("p5-enquiry") / "enquiry.xsd"
    wrapper.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="http://ncts.dgtaxud.ec" '
        'targetNamespace="http://ncts.dgtaxud.ec" elementFormDefault="unqualified">'
        f'<xs:include schemaLocation="{(OFFICIAL / "ctypes.xsd").as_uri()}"/>'
        f'<xs:include schemaLocation="{(OFFICIAL / "htypes.xsd").as_uri()}"/>{"".join(roots)}</xs:schema>'
    )
    return xmlschema.XMLSchema11(str(wrapper))


@pytest.mark.parametrize("code", sorted(HMRC_51_8_0_ROOTS))
def test_enquiry_messages_match_hmrc_51_8_0_over_the_official_types(code: str, hmrc_enquiry_model) -> None:
    """CC140C and CC141C as HMRC publish them: the holder's full identity, CC141C's CONSIGNMENT (ACTUAL)."""
    caravans = xmlschema.XMLSchema10(str(CATS / f"{code.lower()}.xsd"))
    theirs = _paths(hmrc_enquiry_model.elements[code], f"/{code}")
    ours = _paths(caravans.elements[code], f"/{code}")
    assert [row[0] for row in ours] == [row[0] for row in theirs]  # names and order
    assert ours == theirs  # cardinalities and value spaces


def test_cc015c_has_all_313_element_paths(official_model, caravan_model) -> None:
    assert len(_paths(caravan_model.elements["CC015C"], "/CC015C")) == 313


# --- 2. caravan's own messages


CC_FACTORIES = [factory for factory in cats_samples.FACTORIES if factory().code in {code for code in P5_CODES}]


@pytest.mark.parametrize("factory", CC_FACTORIES, ids=lambda factory: factory.__name__)
def test_codec_writes_messages_the_official_schema_accepts(factory) -> None:
    assert official_errors(encode(factory())) == []


def test_a_message_in_its_signed_envelope_is_exactly_the_p5_document() -> None:
    """The signature travels beside the document: what the recipient's application reads is P5 as written."""
    written = etree.tostring(encode(cats_samples.mrn_allocated()), xml_declaration=True, encoding="UTF-8")
    pki = ScenarioPKI.generate(["uz"], valid_from=datetime(2026, 3, 1, tzinfo=timezone.utc))
    envelope = Envelope("UZ-000001", None, "uz", "ge", "CC028C", datetime(2026, 3, 2, tzinfo=timezone.utc), written)
    carried = Envelope.from_xml(envelope.signed(pki.credentials("uz"))).document
    assert carried == written
    assert etree.fromstring(carried).find(f"{DSIG}Signature") is None
    assert official_errors(etree.fromstring(carried)) == []


# --- 3. national systems' messages


FIXTURE_FILES = sorted(FIXTURES.glob("*.xml"))


def test_fixtures_cover_every_message_the_trader_api_takes() -> None:
    sent = {etree.parse(str(path)).getroot().tag.split("}")[1] for path in FIXTURE_FILES}
    assert sent == set(OPENERS) | set().union(*FOLLOW_UPS.values())


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: path.stem)
def test_hmrc_style_message_is_valid_against_both_schemas(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    if (OFFICIAL / f"{etree.QName(root).localname.lower()}.xsd").is_file():  # none for CC141C in 51.8.6
        assert official_errors(root) == []
    checker = caravan(etree.QName(root).localname)
    assert checker.validate(root), [entry.message for entry in checker.error_log]


def test_caravan_validate_accepts_every_hmrc_style_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, FIXTURE_FILES)]) == 0
    assert "INVALID" not in capsys.readouterr().out


def test_caravan_validate_refuses_a_schema_invalid_message_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = etree.parse(str(FIXTURES / "cc015c-hmrc-style.xml")).getroot()
    operation = root.find("TransitOperation")
    operation.remove(operation.find("reducedDatasetIndicator"))
    broken = tmp_path / "cc015c-without-reduced-dataset-indicator.xml"
    broken.write_bytes(etree.tostring(root))
    assert official_errors(root)  # the oracle agrees it is invalid
    assert main(["validate", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "/CC015C/TransitOperation" in out and "reducedDatasetIndicator" in out


def test_business_rule_findings_warn_but_do_not_fail_validate(tmp_path: Path, capsys) -> None:
    root = etree.parse(str(FIXTURES / "cc015c-hmrc-style.xml")).getroot()
    root.find("TransitOperation/declarationType").text = "T9"  # schema-valid an..5, outside CL231
    odd = tmp_path / "cc015c-unknown-declaration-type.xml"
    odd.write_bytes(etree.tostring(root))
    assert official_errors(root) == []
    assert main(["validate", str(odd)]) == 0
    assert "[CL231] at /CC015C/TransitOperation/declarationType" in capsys.readouterr().out
