"""The forms the P5 schemas give the values a scenario writes into CATS messages (schemas/cats/cats-types.xsd).

A trader's city, a seal or a country of routing goes from the scenario into the CC015C the node builds. A value
of another form made a document the hub refuses as schema-invalid (SEVERE Schema [pattern]), and the run stopped
steps later on its consequence ("az holds no MRN for movement M1"). Typed here, `caravan check` names the value,
its place and the form.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = ["AccessCode", "City", "Container", "Country", "GuaranteeType", "Locode", "Lrn", "Name", "PackageType",
           "Postcode", "Seal", "TransportMode"]

Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
"""CountryCodeType: ISO 3166-1 alpha-2, upper case (UZ)."""
TransportMode = Annotated[str, Field(pattern=r"^[0-9]$")]
"""Numeric1Type: a CL018 code, one digit."""
Container = Annotated[str, Field(pattern=r"^[!-~]([ -~]{0,15}[!-~])?$")]
"""TrimmedPrintableText17Type: up to 17 printable ASCII characters, no space at either end."""
Seal = Annotated[str, Field(min_length=1, max_length=20)]
"""TrimmedText20Type: a seal identifier of up to 20 characters."""
PackageType = Annotated[str, Field(pattern=r"^.{2}$")]
"""Code2Type: a CL017 (UN/ECE Rec 21) code of two characters."""
GuaranteeType = Annotated[str, Field(pattern=r"^[A-Z0-9]$")]
"""AlphanumericCode1Type: a CL251 code, one letter or digit."""
AccessCode = Annotated[str, Field(min_length=4, max_length=4)]
"""TrimmedText4ExactType: exactly 4 characters."""
Name = Annotated[str, Field(min_length=1, max_length=70)]
"""TrimmedText70Type: a party's name, or its street and number."""
Postcode = Annotated[str, Field(min_length=1, max_length=17)]
"""TrimmedText17Type."""
City = Annotated[str, Field(min_length=1, max_length=35)]
"""TrimmedText35Type."""
Locode = Annotated[str, Field(min_length=1, max_length=17)]
"""Token17Type: a UN/LOCODE (or another location code) where a message gives the location of goods."""
Lrn = Annotated[str, Field(pattern=r"^\S(?:[^\x00-\x1f\x7f-\x9f]{0,20}\S)?$")]
"""LRNContentType03 (AlphaNumeric_MAX22_NoSpaces): up to 22 characters, spaces and slashes inside allowed, none
blank at either end; no control character, so that it is also the envelope's CorrelationId until the MRN is
allocated (exchange/envelope.py `carried`)."""
