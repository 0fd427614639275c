"""The trainers' view: a run in the browser, live while it plays or replayed from its directory.

1. A run's `events.jsonl` is the whole story: its first entry outlines the scenario (parties, places,
   routes, the paper baseline), then come steps, messages, agency events, faults and refusals, and the
   expectations. `RunFeed` holds those entries: read from the file for a replay (`caravan view`), or
   appended by the driver as it writes them for a live run (`caravan run --view`).
2. `server` serves a static page (shipped in `static/`, no build step) and three JSON surfaces: every
   entry so far, a server-sent-event stream of the entries that follow, and one document with its
   signature and validation checked (`documents`).
3. The page plays the entries on its own clock: the map, the swimlanes of messages between parties,
   movement cards and the paper-against-paperless table are functions of the entries played so far.
"""

from exchange.view.feed import RunFeed
from exchange.view.server import serve_view, view_application

__all__ = ["RunFeed", "serve_view", "view_application"]
