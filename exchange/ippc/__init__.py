"""The IPPC ePhyto Hub on caravan's exchange hub: its semantics (delivery numbers, tracking states, push or
pull, forwarding and channel rules, the directory of active NPPOs, trust by TLS identity with optional
XMLDSig, the ePhyto code lists) and its SOAP 1.1 face with the real WSDL's contract and all 27 operations.

`face.IppcFace` is what the caravan hub mounts; `client.HubClient` is what a node (or a test) calls it with.
"""
