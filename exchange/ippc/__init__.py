"""The IPPC ePhyto Hub on caravan's exchange hub: its semantics (delivery numbers, tracking states,
push or pull, the directory of active NPPOs) and its SOAP 1.1 face with the Hub's operation names.

`face.IppcFace` is what the caravan hub mounts; `client.HubClient` is what a node (or a test) calls it with.
"""
