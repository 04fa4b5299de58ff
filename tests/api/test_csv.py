"""CSV import and export over REST."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


async def test_import_then_export_with_a_hyperlink_formula_inert(client: Client) -> None:
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])
    text = 'Name,Mail,Tags\n"=HYPERLINK(""http://evil.example"",""klick"")",evil@example.de,vip\nBrav,brav@example.de,\n'
    body = {"csv": text, "mapping": {"Name": "name", "Mail": "email", "Tags": "tags"}, "dry_run": True}
    assert (await client.post("/api/v1/imports/contacts", json=body, headers=agent.headers)).status == 403
    resp = await client.post("/api/v1/imports/contacts", json=body, headers=supervisor.headers)
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert (report["dry_run"], report["created"], report["failed"]) == (True, 2, 0)
    resp = await client.post("/api/v1/imports/contacts", json={**body, "dry_run": False}, headers=supervisor.headers)
    assert (await resp.json())["created"] == 2
    bad = {**body, "mapping": {"Nope": "email"}}
    assert (await client.post("/api/v1/imports/contacts", json=bad, headers=supervisor.headers)).status == 422

    await send_inbound(client, sender={"email": "kunde@example.test", "name": "@SUM(1+1)"})
    assert (await client.get("/api/v1/exports/contacts.csv", headers=agent.headers)).status == 403
    resp = await client.get("/api/v1/exports/contacts.csv", headers=supervisor.headers)
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO((await resp.text()).removeprefix("\ufeff"))))
    names = [row[1] for row in rows[1:]]
    assert names == ['\'=HYPERLINK("http://evil.example","klick")', "Brav", "'@SUM(1+1)"]

    segment = await client.post("/api/v1/segments", json={"name": "vip", "definition": {"tag": "vip"}},
                                headers=supervisor.headers)
    resp = await client.get("/api/v1/exports/contacts.csv", params={"segment": (await segment.json())["id"],
                                                                    "delimiter": ";"}, headers=supervisor.headers)
    rows = list(csv.reader(io.StringIO((await resp.text()).removeprefix("\ufeff")), delimiter=";"))
    assert [row[2] for row in rows[1:]] == ["evil@example.de"]

    companies = {"csv": "Firma;Web\nAcme;acme.de\n", "mapping": {"Firma": "name", "Web": "domain"}}
    resp = await client.post("/api/v1/imports/companies", json=companies, headers=supervisor.headers)
    assert (await resp.json())["created"] == 1
