"""`abauto`: the operator's entry point.

eval "$(abauto stack up)"     start the local Kafka + PostgreSQL, export their addresses
abauto db upgrade             migrate DATABASE_URL to the newest schema
abauto db create-roles        create the writer and per-service reader roles
abauto events schema DIR      write every event's JSON Schema
abauto events docs            regenerate docs/events.md
abauto run SERVICE|all        run one service, or all four as separate processes
abauto trigger discovery      ask the discovery service to run now
abauto blocklist show [KEY]   the releases never to be taken again, and why
abauto blocklist clear KEY    let a book's blocklisted releases be taken again
abauto review list            the gaps recorded for review, not downloaded
abauto status [--json]        services alive, wanted, queue with progress, imports, failing, jobs
abauto failures [--days N]    what the failure record says: counts, repeat offenders, patterns
abauto dlq list|show|replay   the dead letters; replay one to its topic, same event id
abauto retry KEY              pursue a failed or abandoned book again, with a fresh budget
abauto review approve KEY     download one of them after all
abauto corrections list       metadata corrections, each at its newest step
abauto corrections apply ID   write a proposed correction to Audiobookshelf
abauto corrections revert ID  write an applied correction's old value back
abauto cleanup                apply the retention rules once
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ops import event_docs, migration_runner, process_group
from ops.database_roles import RoleSettings, create_roles
from shared.events import json_schemas
from shared.settings import DatabaseSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from shared.task_runs import Publisher

Command = Callable[[argparse.Namespace], int]


def _stack_up(args: argparse.Namespace) -> int:
    import devstack

    info = devstack.up()
    print(f"export KAFKA_BOOTSTRAP_SERVERS={shlex.quote(info.kafka_bootstrap)}")
    print(f"export DATABASE_URL={shlex.quote(info.database_url)}")
    return 0


def _stack_down(args: argparse.Namespace) -> int:
    import devstack

    devstack.down()
    return 0


def _stack_status(args: argparse.Namespace) -> int:
    import devstack

    print(json.dumps(devstack.status(), indent=2, default=str))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    migration_runner.upgrade(args.revision)
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    migration_runner.downgrade(args.revision)
    return 0


def _db_create_roles(args: argparse.Namespace) -> int:
    asyncio.run(create_roles(DatabaseSettings(), RoleSettings()))
    print("roles created or updated", file=sys.stderr)
    return 0


def _events_schema(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (directory / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(json_schemas())} schemas to {directory}", file=sys.stderr)
    return 0


def _events_docs(args: argparse.Namespace) -> int:
    Path(args.output).write_text(event_docs.render())
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.service == "all":
        from shared.logs import configure_logging

        configure_logging("abauto", "INFO")
        return asyncio.run(process_group.run_all())
    module = importlib.import_module(f"services.{args.service}.service")
    module.main()
    return 0


def _trigger_discovery(args: argparse.Namespace) -> int:
    from shared.events import DiscoveryRequested, DiscoveryRequestedPayload
    from shared.messaging import EventProducer
    from shared.settings import KafkaSettings

    async def send() -> None:
        settings = KafkaSettings()
        producer = EventProducer(settings, client_id="cli")
        await producer.start()
        try:
            payload = DiscoveryRequestedPayload(
                requested_by="cli",
                library_scan=not args.series_only,
                series_check=not args.library_only,
            )
            await producer.publish(DiscoveryRequested.create(payload, producer="cli"))
        finally:
            await producer.stop()

    asyncio.run(send())
    print("discovery requested", file=sys.stderr)
    return 0


T = TypeVar("T")


def _read(query: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run one read of the record (`DATABASE_URL`) and return what it found."""
    from shared.database import create_engine_from

    async def read() -> T:
        engine = create_engine_from(DatabaseSettings())
        try:
            return await query(engine)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _send(
    action: Callable[[AsyncEngine, Publisher], Awaitable[object]],
    refused: type[Exception],
    done: str,
) -> int:
    """Run a command that reads the record and publishes (`DATABASE_URL`, Kafka): 0 and
    `done` on stderr, or 2 and the reason when the command is refused."""
    from shared.database import create_engine_from
    from shared.messaging import EventProducer
    from shared.settings import KafkaSettings

    async def send() -> int:
        engine = create_engine_from(DatabaseSettings())
        producer = EventProducer(KafkaSettings(), client_id="cli")
        await producer.start()
        try:
            await action(engine, producer)
        except refused as error:
            print(f"abauto: {error}", file=sys.stderr)
            return 2
        finally:
            await producer.stop()
            await engine.dispose()
        print(done, file=sys.stderr)
        return 0

    return asyncio.run(send())


def _listed(rows: Sequence[Any], line: Callable[[Any], str], what: str) -> int:
    for row in rows:
        print(line(row))
    print(f"{len(rows)} {what}", file=sys.stderr)
    return 0


def _blocklist_show(args: argparse.Namespace) -> int:
    from ops import blocklist_commands

    rows = _read(lambda engine: blocklist_commands.blocked(engine, args.book_key))
    return _listed(rows, lambda row: row.line(), "blocklisted releases")


def _blocklist_clear(args: argparse.Namespace) -> int:
    from ops import blocklist_commands

    return _send(
        lambda engine, out: blocklist_commands.clear(engine, out, args.book_key, args.by),
        blocklist_commands.UnknownBookError,
        f"blocklist of {args.book_key} cleared",
    )


def _review_list(args: argparse.Namespace) -> int:
    from ops import review_commands

    rows = _read(review_commands.for_review)
    return _listed(rows, lambda row: row.line(), "gaps for review")


def _review_approve(args: argparse.Namespace) -> int:
    from ops import review_commands
    from ops.blocklist_commands import UnknownBookError

    return _send(
        lambda engine, out: review_commands.approve(engine, out, args.book_key, args.by),
        UnknownBookError,
        f"{args.book_key} requested",
    )


def _corrections_list(args: argparse.Namespace) -> int:
    from ops import correction_commands

    rows = _read(lambda engine: correction_commands.listed(engine, args.status))
    if args.json:
        print(json.dumps([correction_commands.as_json(r) for r in rows], indent=2))
        return 0
    return _listed(rows, correction_commands.line, "corrections")


def _corrections_request(args: argparse.Namespace) -> int:
    from ops import correction_commands

    return _send(
        lambda engine, out: correction_commands.request(
            engine, out, args.action, args.correction_id, args.by
        ),
        correction_commands.CorrectionRefusedError,
        f"{args.action} of {args.correction_id} requested",
    )


def _status(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ops.status import lines, status

    found = _read(lambda engine: status(engine, datetime.now(UTC), args.days))
    print(json.dumps(found, indent=2) if args.json else "\n".join(lines(found)))
    return 0


def _failures(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from ops.failures import analyse, lines
    from ops.failures_record import failure_rows

    since = datetime.now(UTC) - timedelta(days=args.days)
    rows = _read(lambda engine: failure_rows(engine, since))
    found = analyse(rows, since, args.threshold)
    print(json.dumps(found.as_json(), indent=2) if args.json else "\n".join(lines(found)))
    return 0


def _dlq(args: argparse.Namespace) -> int:
    from ops import dead_letters
    from shared.settings import KafkaSettings

    async def act() -> int:
        kafka = KafkaSettings()
        letters = await dead_letters.read_letters(kafka)
        try:
            if args.action == "list":
                if args.json:
                    shown = [{"id": f.id, **f.letter.model_dump(mode="json")} for f in letters]
                    print(json.dumps(shown, indent=2))
                    return 0
                return _listed(letters, lambda found: found.line(), "dead letters")
            found = dead_letters.find(letters, args.letter)
            if args.action == "show":
                print(
                    json.dumps({"id": found.id, **found.letter.model_dump(mode="json")}, indent=2)
                )
                print(found.letter.raw.decode("utf-8", errors="replace"))
                return 0
            await dead_letters.replay(kafka, found)
        except dead_letters.LetterRefusedError as error:
            print(f"abauto: {error}", file=sys.stderr)
            return 2
        print(f"dead letter {found.id} replayed to {found.letter.original_topic}", file=sys.stderr)
        return 0

    return asyncio.run(act())


def _retry(args: argparse.Namespace) -> int:
    from ops import blocklist_commands, review_commands

    async def retry(engine: AsyncEngine, out: Publisher) -> None:
        if args.clear_blocklist:
            await blocklist_commands.clear(engine, out, args.book_key, args.by)
        await review_commands.approve(engine, out, args.book_key, args.by)

    return _send(retry, blocklist_commands.UnknownBookError, f"{args.book_key} asked for again")


def _cleanup(args: argparse.Namespace) -> int:
    from services.recorder.retention import cleanup
    from services.recorder.settings import RecorderSettings
    from shared.database import create_engine_from

    async def once() -> None:
        settings = RecorderSettings()
        engine = create_engine_from(settings)
        try:
            report = await cleanup(engine, settings)
        finally:
            await engine.dispose()
        print(json.dumps(report.__dict__))

    asyncio.run(once())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="abauto", description=__doc__.splitlines()[0])
    groups = parser.add_subparsers(dest="group", required=True)

    stack = groups.add_parser("stack", help="the local Kafka + PostgreSQL").add_subparsers(
        dest="action", required=True
    )
    stack.add_parser("up", help="start it; prints export lines").set_defaults(run=_stack_up)
    stack.add_parser("down", help="stop it").set_defaults(run=_stack_down)
    stack.add_parser("status", help="what is running").set_defaults(run=_stack_status)

    db = groups.add_parser("db", help="the PostgreSQL schema").add_subparsers(
        dest="action", required=True
    )
    upgrade = db.add_parser("upgrade", help="alembic upgrade (default: head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=_db_upgrade)
    downgrade = db.add_parser("downgrade", help="alembic downgrade to a revision")
    downgrade.add_argument("revision")
    downgrade.set_defaults(run=_db_downgrade)
    db.add_parser(
        "create-roles",
        help="the writer's and each reading service's role, passwords from "
        "ABAUTO_{WRITER,DISCOVERY,DOWNLOADER,IMPORTER}_PASSWORD",
    ).set_defaults(run=_db_create_roles)

    events = groups.add_parser("events", help="the event contracts").add_subparsers(
        dest="action", required=True
    )
    schema = events.add_parser("schema", help="write every event's JSON Schema")
    schema.add_argument("directory", nargs="?", default="schemas")
    schema.set_defaults(run=_events_schema)
    docs = events.add_parser("docs", help="regenerate the topic and event reference")
    docs.add_argument("--output", default=str(event_docs.DOCS_PATH))
    docs.set_defaults(run=_events_docs)
    run = groups.add_parser("run", help="run a service until SIGTERM/SIGINT")
    run.add_argument("service", choices=(*process_group.SERVICES, "all"))
    run.set_defaults(run=_run)
    trigger = groups.add_parser("trigger", help="ask a service to act now").add_subparsers(
        dest="action", required=True
    )
    discovery = trigger.add_parser("discovery", help="scan the library and look for gaps now")
    scope = discovery.add_mutually_exclusive_group()
    scope.add_argument("--library-only", action="store_true", help="no series check")
    scope.add_argument("--series-only", action="store_true", help="no library scan")
    discovery.set_defaults(run=_trigger_discovery)
    blocklist = groups.add_parser(
        "blocklist", help="releases never to be taken again for a book"
    ).add_subparsers(dest="action", required=True)
    show = blocklist.add_parser("show", help="list them, newest first (DATABASE_URL)")
    show.add_argument("book_key", nargs="?", help="only this book (asin:… or book:…)")
    show.set_defaults(run=_blocklist_show)
    clear = blocklist.add_parser("clear", help="let a book's be taken again (DATABASE_URL, Kafka)")
    clear.add_argument("book_key", help="the book's key, as `show` prints it")
    clear.add_argument("--by", default="cli", help="who clears it, for the record")
    clear.set_defaults(run=_blocklist_clear)
    review = groups.add_parser(
        "review", help="gaps recorded, not downloaded, until approved"
    ).add_subparsers(dest="action", required=True)
    review.add_parser("list", help="list them, the surest first (DATABASE_URL)").set_defaults(
        run=_review_list
    )
    approve = review.add_parser("approve", help="download one (DATABASE_URL, Kafka)")
    approve.add_argument("book_key", help="the book's key, as `list` prints it")
    approve.add_argument("--by", default="cli", help="who asks, for the record")
    approve.set_defaults(run=_review_approve)
    corrections = groups.add_parser(
        "corrections", help="metadata corrections from the catalogue"
    ).add_subparsers(dest="action", required=True)
    listing = corrections.add_parser("list", help="each at its newest step (DATABASE_URL)")
    listing.add_argument("--status", choices=("proposed", "applied", "reverted"))
    listing.add_argument("--json", action="store_true", help="as a JSON array")
    listing.set_defaults(run=_corrections_list)
    for action, what in (("apply", "write a proposed one"), ("revert", "undo an applied one")):
        command = corrections.add_parser(action, help=f"{what} (DATABASE_URL, Kafka)")
        command.add_argument("correction_id", help="the id, as `list` prints it")
        command.add_argument("--by", default="cli", help="who asks, for the record")
        command.set_defaults(run=_corrections_request)
    state = groups.add_parser(
        "status",
        help="from the record: which services are alive, what is wanted, the queue with "
        "progress, speed and ETA, recent imports, failing, jobs",
    )
    state.add_argument("--days", type=float, default=7.0, help="imports this recent (7 days)")
    state.add_argument("--json", action="store_true", help="machine-readable")
    state.set_defaults(run=_status)
    failures = groups.add_parser(
        "failures", help="failure analytics over a window: counts, repeat offenders, patterns"
    )
    failures.add_argument("--days", type=float, default=30.0, help="the window (30 days)")
    failures.add_argument("--threshold", type=int, default=3, help="failures a pattern needs")
    failures.add_argument("--json", action="store_true", help="machine-readable")
    failures.set_defaults(run=_failures)
    retry = groups.add_parser(
        "retry",
        help="pursue a book again (a 'book requested': a fresh retry budget; DATABASE_URL, Kafka)",
    )
    retry.add_argument("book_key", help="the book's key (asin:… or book:…)")
    retry.add_argument(
        "--clear-blocklist", action="store_true", help="also let its blocklisted releases back"
    )
    retry.add_argument("--by", default="cli", help="who asks, for the record")
    retry.set_defaults(run=_retry)
    dlq = groups.add_parser(
        "dlq", help="the dead-letter topic (KAFKA_BOOTSTRAP_SERVERS)"
    ).add_subparsers(dest="action", required=True)
    listing = dlq.add_parser("list", help="every dead letter still in the topic")
    listing.add_argument("--json", action="store_true", help="machine-readable")
    listing.set_defaults(run=_dlq)
    for action, text in (
        ("show", "one letter, with its original message"),
        ("replay", "publish the original message again to its topic (same event id)"),
    ):
        command = dlq.add_parser(action, help=text)
        command.add_argument("letter", help="its id, partition:offset, as `list` prints it")
        command.set_defaults(run=_dlq)
    groups.add_parser(
        "cleanup", help="delete tasks/corrections past retention (never failures)"
    ).set_defaults(run=_cleanup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `abauto` command; the exit status is the return value."""
    args = _parser().parse_args(argv)
    command: Command = args.run
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
