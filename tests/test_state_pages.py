"""A node's `GET /state` in pages: folded in order, the pages give the whole state, for every family, after a
real run (guarantees written after their configured start, rejected declarations, transit at several offices,
certificate versions); a page request the node cannot serve gets a 400 naming the parameter and the rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exchange.runner import Deployment, Driver
from exchange.snapshots import merge_page
from nodes.families import describe_document
from nodes.language import load_scenario
from nodes.launch import local_deployment

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as answer:
        return answer.status, await answer.json()


def _driver_session(deployment: Deployment) -> aiohttp.ClientSession:
    assert deployment.driver_tls is not None
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=deployment.driver_tls.client_context()))


@pytest.mark.parametrize("name", ["aze-geo-uzb-transit", "uzb-geo-ephyto-transit", "uzb-aze-eco"])
async def test_a_nodes_state_read_one_record_per_page_folds_back_into_its_whole_state(name: str,
                                                                                     tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    async with local_deployment(scenario, tmp_path / "run") as deployment:
        assert (await Driver(scenario, deployment, tmp_path / "run", describe_document).run()).ok
        pages: dict[str, int] = {}
        async with _driver_session(deployment) as session:
            for node, url in deployment.node_urls.items():
                _, whole = await _get(session, f"{url}/state")
                folded: dict[str, Any] = {}
                pages[node], query = 0, "limit=1"
                while query:
                    status, page = await _get(session, f"{url}/state?{query}")
                    assert status == 200, page
                    merge_page(folded, page["state"])
                    pages[node] += 1
                    query = page["next"] and f"after={page['next']}&limit=1"
                assert folded == whole, f"{node}: the pages do not make the whole state"
        assert max(pages.values()) > 10, f"one record per page: some node holds more than a few records ({pages})"


async def test_a_page_request_the_node_cannot_serve_is_refused_with_the_parameter_and_the_rule(
        tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "aze-geo-uzb-transit.yaml")
    async with local_deployment(scenario, tmp_path / "run") as deployment, _driver_session(deployment) as session:
        url = deployment.node_urls["uz"]
        for query, parameter, rule in (("limit=0", "limit", "state-page-limit"),
                                       ("limit=ten", "limit", "state-page-limit"),
                                       ("after=not-a-token", "after", "state-cursor"),
                                       ("after=WyJub3BlIl0", "after", "state-cursor")):  # ["nope"]: no such family
            status, answer = await _get(session, f"{url}/state?{query}")
            assert status == 400 and answer["path"] == parameter and answer["rule"] == rule, (query, answer)
        status, answer = await _get(session, f"{url}/state?after=not-a-token")  # no decoder's words
        assert answer["message"] == ("after='not-a-token' is not a token from a previous page's next: pass that next "
                                     "as it was given"), answer
        status, first = await _get(session, f"{url}/state?limit=500")
        assert status == 200 and set(first) == {"state", "next"}
