"""``hub contacts import|export`` and ``hub retention run``: the customer record from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from hub.bootstrap import build_services, sync_config
from hub.bus import InProcessBus
from hub.config import load_settings
from hub.crm_link.csv_export import export_rows
from hub.crm_link.csv_import import ImportReport, import_companies, import_contacts
from hub.crm_link.retention import RetentionSettings, run_retention
from hub.crm_link.segment_store import load_definition
from hub.crm_link.segments import contact_filter
from hub.db.models import Contact, utcnow
from hub.errors import ValidationFailed
from hub.services import Services

T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``contacts`` and ``retention`` commands."""
    contacts = sub.add_parser("contacts", help="import and export contacts").add_subparsers(dest="action", required=True)
    imports = contacts.add_parser("import", help="import contacts (or companies) from a CSV file")
    imports.add_argument("file", type=Path)
    imports.add_argument("--map", action="append", default=[], metavar="COLUMN=TARGET",
                         help="a column and its target: name, email, phone, platform, company, lifecycle_stage, "
                              "tags, attribute:<key>, ignore (companies: name, domain); repeat per column")
    imports.add_argument("--companies", action="store_true", help="the file holds companies, not contacts")
    imports.add_argument("--dry-run", action="store_true", help="report what would happen; change nothing")
    imports.add_argument("--region", help="ISO country code for phone numbers without +, e.g. DE")
    imports.add_argument("--delimiter", choices=[",", ";", "tab"], help="default: guessed from the header")
    imports.add_argument("--json", action="store_true", help="print the whole report as JSON")
    imports.set_defaults(func=import_file)
    export = contacts.add_parser("export", help="write contacts as CSV (formulas made inert)")
    export.add_argument("--segment", type=int, help="only the contacts of this saved segment")
    export.add_argument("--delimiter", choices=[",", ";"], default=",")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=export_file)

    retention = sub.add_parser("retention", help="delete what is kept longer than allowed").add_subparsers(
        dest="action", required=True
    )
    run = retention.add_parser("run", help="run the [retention] policies now")
    run.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    run.add_argument("--json", action="store_true", help="print the report as JSON (with conversation ids)")
    run.set_defaults(func=retention_run)


def _mapping(items: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        column, equals, target = item.rpartition("=")
        if not equals or not column or not target:
            raise ValidationFailed(f"--map {item!r}: write COLUMN=TARGET")
        mapping[column] = target
    if not mapping:
        raise ValidationFailed("give the column mapping with --map COLUMN=TARGET")
    return mapping


def import_file(args: argparse.Namespace) -> int:
    """Import; exit status 1 when a row failed."""
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{args.file}: {exc}") from exc
    mapping = _mapping(args.map)
    delimiter = "\t" if args.delimiter == "tab" else args.delimiter

    async def action(services: Services) -> ImportReport:
        if args.companies:
            return await import_companies(services, text, mapping, dry_run=args.dry_run, delimiter=delimiter)
        return await import_contacts(
            services, text, mapping, actor=None, dry_run=args.dry_run, region=args.region, delimiter=delimiter
        )

    report = _run(args, action)
    if args.json:
        print(msgspec.json.encode(report).decode())  # noqa: T201
    else:
        what = "dry run: would create" if report.dry_run else "created"
        print(f"{report.rows} rows: {what} {report.created}, updated {report.updated}, failed {report.failed}")  # noqa: T201
        for error in report.errors:
            column = f" ({error.column})" if error.column else ""
            print(f"row {error.row}{column}: {error.message}", file=sys.stderr)  # noqa: T201
    return 1 if report.failed else 0


def export_file(args: argparse.Namespace) -> int:
    """Write the CSV."""

    async def action(services: Services) -> int:
        where = []
        if args.segment is not None:
            async with services.sessions() as session:
                definition = await load_definition(session, args.segment)
            where.append(contact_filter(definition, Contact.id.expression, now=utcnow()))
        out = args.output.open("wb") if args.output else sys.stdout.buffer
        try:
            async for chunk in export_rows(services, where, delimiter=args.delimiter):
                out.write(chunk)
        finally:
            if args.output:
                out.close()
        return 0

    return _run(args, action)


def retention_run(args: argparse.Namespace) -> int:
    """Run (or, dry, list) the retention policies now."""

    async def action(services: Services) -> dict[str, Any]:
        settings = RetentionSettings.from_config(services.settings.crm.get("retention", {}))
        report = await run_retention(services, settings, dry_run=args.dry_run)
        return {**report.summary(), "now": report.now.isoformat(), "conversation_ids": report.conversations,
                "audit_id": report.audit_id}

    result = _run(args, action)
    if args.json:
        print(json.dumps(result, sort_keys=True))  # noqa: T201
    else:
        verb = "would delete" if result["dry_run"] else "deleted"
        for name, count in result["conversations"].items():
            print(f"{name}: {verb} {count} conversations")  # noqa: T201
        print(f"{verb} {result['idempotency_keys']} stored idempotency answers, {result['blobs']} files")  # noqa: T201
    return 0


def _run(args: argparse.Namespace, action: Callable[[Services], Awaitable[T]]) -> T:
    settings = load_settings(args.config)

    async def main() -> T:
        services = build_services(settings, bus=InProcessBus())
        try:
            await sync_config(services)
            return await action(services)
        finally:
            await services.engine.dispose()

    return asyncio.run(main())
