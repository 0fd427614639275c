"""External nodes: a national system under test takes a node's place in a prepared scenario.

`caravan prepare SCENARIO --out DIR --external NODE=INBOX_URL` makes NODE external:

1. NODE's signing and TLS credentials are issued into DIR/pki like every node's, so the system under
   test signs and connects as NODE;
2. the hub pushes NODE's traffic to INBOX_URL (`DIR/hub.yaml`, `nodes`);
3. DIR/external.yaml lists the external nodes and their inbox URLs: what `caravan conform` and
   `caravan run --attach` read to start no process for NODE and to send it no control action it did
   not ask for;
4. DIR/NODE.yaml is still written, listening where INBOX_URL says, so caravan's own node can play the
   system under test (`caravan node --config DIR/NODE.yaml`);
5. DIR/NODE-README tells the system's operator the hub's URL, its scenario clock, the files to use and
   where the protocol is written down (docs/PROTOCOL.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from exchange.errors import InputError
from exchange.inputs import read_yaml_input

__all__ = ["EXTERNAL_FILE", "ExternalNode", "parse_external", "read_external", "write_external"]

EXTERNAL_FILE = "external.yaml"


@dataclass(frozen=True)
class ExternalNode:
    """One node played by a system caravan does not start: its id and the inbox URL the hub pushes to."""

    node: str
    inbox_url: str  # scheme://host:port, no path: the hub posts to INBOX_URL/inbox
    host: str
    port: int

    @classmethod
    def parse(cls, node: str, inbox_url: str) -> ExternalNode:
        parts = urlsplit(inbox_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"--external {node}={inbox_url}: the inbox URL must be http(s)://HOST:PORT",
                             document=inbox_url, path="--external")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InputError(f"--external {node}={inbox_url}: the port is not a number", document=inbox_url,
                             path="--external") from None
        if parts.path.strip("/") or parts.query:
            raise InputError(f"--external {node}={inbox_url}: give the base URL only; the hub posts to "
                             f"{parts.scheme}://{parts.netloc}/inbox", document=inbox_url, path="--external")
        return cls(node, f"{parts.scheme}://{parts.netloc}", parts.hostname, port)

    @property
    def tls(self) -> bool:
        return self.inbox_url.startswith("https:")


def parse_external(values: Sequence[str], nodes: Sequence[str]) -> dict[str, ExternalNode]:
    """`--external NODE=INBOX_URL`, repeatable; every NODE must be one of the scenario's nodes, once."""
    external: dict[str, ExternalNode] = {}
    for value in values:
        node, equals, url = value.partition("=")
        if not equals or not node or not url:
            raise InputError(f"--external {value!r}: write NODE=INBOX_URL (uz=https://127.0.0.1:9443)",
                             path="--external")
        if node not in nodes:
            raise InputError(f"--external {value!r}: {node!r} is not a node of the scenario; its nodes: "
                             f"{', '.join(nodes)}", path="--external")
        if node in external:
            raise InputError(f"--external names {node!r} twice", path="--external")
        external[node] = ExternalNode.parse(node, url)
    return external


def write_external(directory: Path, external: Mapping[str, ExternalNode], hub_url: str) -> list[Path]:
    """DIR/external.yaml (always, empty when no node is external: a prepared directory says so) and a README
    per external node."""
    manifest = directory / EXTERNAL_FILE
    manifest.write_text(yaml.safe_dump({"external": {n: e.inbox_url for n, e in external.items()}}, sort_keys=False),
                        encoding="utf-8")
    written = [manifest]
    for node in external.values():
        readme = directory / f"{node.node}-README"
        readme.write_text(_readme(node, hub_url), encoding="utf-8")
        written.append(readme)
    for stale in directory.glob("*-README"):  # a node external in an earlier prepare, and no longer
        if stale.name.removesuffix("-README") not in external:
            stale.unlink()
    return written


def read_external(directory: Path, nodes: Collection[str]) -> dict[str, str]:
    """Node id → inbox URL of every external node of a prepared directory (none for one prepared before); each
    must be one of the prepared hub's `nodes`, and the file holds nothing else: a key it does not know (a typo of
    `external`) or a node no component is would otherwise be passed over, and a run judge what was not meant."""
    path = directory / EXTERNAL_FILE
    if not path.is_file():
        return {}
    data = read_yaml_input(path, "external nodes list")
    for key in data if isinstance(data, Mapping) else ():
        if key != "external":
            raise InputError(f"{path}: {str(key)!r} is no key of an external nodes list; it holds `external:`, a "
                             "mapping of node id to inbox URL", document=str(path), path=str(key))
    listed = data.get("external") if isinstance(data, Mapping) else None
    if listed is None:
        return {}
    if not isinstance(listed, Mapping):
        raise InputError(f"{path}: external is {listed!r}; a mapping of node id to inbox URL is wanted",
                         document=str(path), path="external")
    for node in listed:
        if str(node) not in nodes:
            raise InputError(f"{path}: names {str(node)!r}, which is no node of the prepared hub "
                             f"({', '.join(sorted(nodes))})", document=str(path), path=f"external/{node}")
    return {str(node): str(url) for node, url in listed.items()}


def _readme(node: ExternalNode, hub_url: str) -> str:
    me = node.node
    return f"""Your system plays node `{me}` in this prepared scenario.

The protocol (envelope, signature profile, time window, receipts, refusals, the push contract, a worked
curl + openssl example) is written in docs/PROTOCOL.md of caravan, with OpenAPI documents beside it
(docs/openapi.yaml: the hub; docs/openapi-node.yaml: your inbox).

Hub:               {hub_url}
  submit:          POST {hub_url}/envelopes
  scenario time:   GET {hub_url}/clock   (Created must lie within its window_seconds of `now`)
Your inbox:        {node.inbox_url}/inbox   (the hub pushes your traffic here, as TLS identity `hub`)

Files (relative to this directory):
  pki/tls/ca.pem            the only trust anchor: TLS peers and signatures
  pki/tls/{me}.pem           your TLS certificate (client to the hub, server for your inbox)
  pki/tls/{me}-key.pem       its key
  pki/{me}.pem               your document-signing certificate (put it in KeyInfo)
  pki/{me}-key.pem           its key
  pki/ca.crl                the scenario CRL, once a scenario revokes a certificate

caravan starts no process for `{me}` and sends it no control action. Steps of a scenario that name
`{me}` are what you do (caravan prints them as they come); a system that offers caravan's control API
(answers GET {node.inbox_url}/status to the TLS identity `driver`, as caravan's own node does) gets
them sent. `{me}.yaml` here is the config for caravan's own node in your place:
  caravan node --config {me}.yaml

Judge your system:
  caravan conform SCENARIO --prepared . --report OUT
"""
