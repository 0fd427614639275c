"""The WSDL caravan serves at `?wsdl` means what the IPPC Hub's published WSDL means, the address aside:
the same types, global elements, operations, SOAP actions and WS-Addressing actions. Checked component
by component against the real WSDL in ../shared/reference/ippc-hub/ (skipped, saying so, when it is absent).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from tests.hub_contract import components, names, operations, real_wsdl
from tests.ippc_support import deployment


async def served_wsdl(tmp_path: Path) -> tuple[etree._Element, str]:
    async with deployment(tmp_path) as hub:
        session = await hub.session("uz")
        async with session.get(f"{hub.endpoint}?wsdl") as answer:
            assert answer.status == 200 and answer.content_type == "text/xml"
            return etree.fromstring(await answer.read()), hub.endpoint


def _differences(real: dict, served: dict) -> list[str]:
    missing = sorted(real.keys() - served.keys(), key=str)
    extra = sorted(served.keys() - real.keys(), key=str)
    changed = sorted((key for key in real.keys() & served.keys() if real[key] != served[key]), key=str)
    return [f"missing {key}" for key in missing] + [f"not in the Hub's {key}" for key in extra] + [
        f"differs {key}: real {real[key]!r} served {served[key]!r}" for key in changed[:5]]


async def test_the_served_types_equal_the_real_hubs(tmp_path: Path) -> None:
    real = components(real_wsdl())
    served, _ = await served_wsdl(tmp_path)
    assert _differences(real, components(served)) == []
    kinds = {kind for kind, _ in real}
    assert kinds == {"element", "complexType", "simpleType"}
    enumerations = {key[1] for key in real if key[0] == "simpleType"}
    assert {"{http://ephyto.ippc.int/}validationArea", "{http://ephyto.ippc.int/}channelRuleType",
            "{http://ephyto.ippc.int/HUB.Entities}HUBTrackingInfo"} <= enumerations


async def test_the_served_operations_and_actions_equal_the_real_hubs(tmp_path: Path) -> None:
    real = real_wsdl()
    served, endpoint = await served_wsdl(tmp_path)
    assert len(operations(real)) == 27
    assert _differences(operations(real), operations(served)) == []
    assert names(served) == names(real)
    address = served.find("{*}service/{*}port/{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None and address.get("location") == endpoint


def test_a_changed_type_is_seen_as_a_difference() -> None:
    """The comparison is not blind: one occurrence bound changed in a copy of the real WSDL shows up."""
    real = real_wsdl()
    changed = etree.fromstring(etree.tostring(real))
    hub = "http://ephyto.ippc.int/HUB.Entities"
    header = changed.find(f"{{*}}types/{{*}}schema[@targetNamespace='{hub}']/{{*}}complexType[@name='EnvelopeHeader']")
    assert header is not None
    header[0][5].set("minOccurs", "1")  # hubDeliveryNumber made required
    differences = _differences(components(real), components(changed))
    assert len(differences) == 1 and differences[0].startswith(f"differs ('complexType', '{{{hub}}}EnvelopeHeader')")
