"""The agent's store (SQLModel): snapshots, decisions with their exact inputs, proposals and
their state machine, attestation documents. SQLite by default, PostgreSQL by URL.

Proposal states: drafted -> signed -> submitted -> queued -> executed | cancelled | expired
| failed; a tightening-only update (the steward's fast path) goes submitted -> executed.
Every transition is one committed transaction, so a crash leaves each proposal in exactly one
state and the service resumes from there. End states have no way out.

Read-only commands (`status`, `verify`, `dashboard`, `report`) open the database with
`open_read_only`: never migrated, never written (SQLite is opened with mode=ro), and a
database that is not the agent's, or is at another schema revision, is refused by name."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, inspect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Field, Session, SQLModel, create_engine, select

from agent.errors import RiskAgentError


class ProposalState(StrEnum):
    DRAFTED = "drafted"
    SIGNED = "signed"
    SUBMITTED = "submitted"
    QUEUED = "queued"
    EXECUTED = "executed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


ALLOWED_TRANSITIONS = {
    ProposalState.DRAFTED: {ProposalState.SIGNED, ProposalState.FAILED},
    ProposalState.SIGNED: {ProposalState.SUBMITTED, ProposalState.QUEUED, ProposalState.EXECUTED, ProposalState.EXPIRED,
                           ProposalState.FAILED},
    ProposalState.SUBMITTED: {ProposalState.QUEUED, ProposalState.EXECUTED, ProposalState.EXPIRED, ProposalState.FAILED},
    ProposalState.QUEUED: {ProposalState.EXECUTED, ProposalState.CANCELLED, ProposalState.EXPIRED, ProposalState.FAILED},
}
END_STATES = frozenset(set(ProposalState) - set(ALLOWED_TRANSITIONS))
SCHEMA_REVISION = "0003"


class InvalidTransition(Exception):
    """A move the proposal state machine does not allow (e.g. out of an end state)."""


class DatabaseError(RiskAgentError):
    """A database the agent cannot use as asked: missing, unreadable, foreign or at another
    schema revision; the message says which and what to do."""


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


class MarketSnapshotRow(SQLModel, table=True):
    __tablename__ = "market_snapshot"
    id: int | None = Field(default=None, primary_key=True)
    chain_id: int = Field(sa_type=BigInteger)
    block_number: int = Field(index=True, unique=True, sa_type=BigInteger)
    block_timestamp: int = Field(sa_type=BigInteger)
    reserves_json: str = Field(sa_column=Column(Text, nullable=False))


class DecisionRow(SQLModel, table=True):
    __tablename__ = "decision"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    inputs_hash: str = Field(index=True)
    inputs_canonical: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    recommendation_json: str = Field(sa_column=Column(Text, nullable=False))
    enclave_address: str
    measurement: str
    attestation_id: int | None = Field(default=None, foreign_key="attestation.id")
    config_hash: str = ""
    anchor_block: int | None = Field(default=None, sa_type=BigInteger)
    anchor_timestamp: int | None = Field(default=None, sa_type=BigInteger)
    inputs_publish_tx: str | None = None


class AttestationRow(SQLModel, table=True):
    __tablename__ = "attestation"
    id: int | None = Field(default=None, primary_key=True)
    fetched_at: datetime = Field(default_factory=utcnow)
    document: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    document_sha256: str = Field(index=True)
    enclave_address: str
    measurement: str
    registration_operation_id: str | None = None
    registration_state: str = "unregistered"


class ProposalRow(SQLModel, table=True):
    __tablename__ = "proposal"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    asset_symbol: str = Field(index=True)
    asset_address: str
    state: str = Field(default=ProposalState.DRAFTED, index=True)
    update_json: str = Field(sa_column=Column(Text, nullable=False))
    nonce: int = Field(default=0, index=True, sa_type=BigInteger)
    deadline: int = Field(default=0, sa_type=BigInteger)
    enclave_address: str = ""
    signature: str = ""
    update_hash: str = Field(default="", index=True)
    params_before_json: str = Field(sa_column=Column(Text, nullable=False))
    params_after_json: str = Field(sa_column=Column(Text, nullable=False))
    operation_id: str | None = None
    submit_tx: str | None = None
    execute_tx: str | None = None
    cancel_tx: str | None = None
    eta: int | None = Field(default=None, sa_type=BigInteger)
    # Chain time (s) of the block that executed it: the submit's on the fast path, the
    # timelock execution's on the slow one (often later than the ETA). None before 0003.
    executed_at_s: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = None
    path: str = "slow"  # "fast": tightening-only, applied at submit; "slow": through the timelock


class PricePointRow(SQLModel, table=True):
    """One observed price of an asset: a feed round (`round_id`, `timestamp_s` = its
    updatedAt, `source` "feed:<address>") or a backfilled point (`source` names the file's
    SHA-256). Queried by (asset, time) through the composite index."""

    __tablename__ = "price_point"
    __table_args__ = (Index("ix_price_point_asset_time", "asset_symbol", "timestamp_s"),)
    id: int | None = Field(default=None, primary_key=True)
    asset_symbol: str = Field(index=True)
    timestamp_s: int = Field(index=True, sa_type=BigInteger)
    price_usd: float
    utilization: float | None = None
    source: str
    round_id: str | None = None  # decimal text: Chainlink round ids exceed 64 bits
    block_number: int | None = Field(default=None, sa_type=BigInteger)


class UtilizationPointRow(SQLModel, table=True):
    """A reserve's utilization read at a block (re-readable with eth_call at that block)."""

    __tablename__ = "utilization_point"
    __table_args__ = (Index("ix_utilization_asset_time", "asset_symbol", "timestamp_s"),)
    id: int | None = Field(default=None, primary_key=True)
    asset_symbol: str
    timestamp_s: int = Field(sa_type=BigInteger)
    block_number: int = Field(sa_type=BigInteger)
    utilization: float


class RunInfoRow(SQLModel, table=True):
    """Facts about the run the dashboard needs (e.g. a replay's `time_shift_s`: chain time minus
    the replayed history's own time)."""

    __tablename__ = "run_info"
    key: str = Field(primary_key=True)
    value: str


class BorrowerAccountRow(SQLModel, table=True):
    """An account seen in the pool's events; its position is read at each decision's block."""

    __tablename__ = "borrower_account"
    account: str = Field(primary_key=True)
    first_seen_block: int = Field(sa_type=BigInteger)


class CursorRow(SQLModel, table=True):
    """How far a job has read the chain (e.g. reconcile's last block)."""

    __tablename__ = "cursor"
    name: str = Field(primary_key=True)
    block_number: int = Field(sa_type=BigInteger)


class JobStatusRow(SQLModel, table=True):
    __tablename__ = "job_status"
    name: str = Field(primary_key=True)
    runs: int = 0
    errors: int = 0
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None


class BacktestRunRow(SQLModel, table=True):
    __tablename__ = "backtest_run"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    strategy: str
    assets: str
    period_start: str
    period_end: str
    seed: int
    metrics_json: str = Field(sa_column=Column(Text, nullable=False))
    report_path: str | None = None


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def database_url(url: str) -> str:
    """A bare path means a SQLite file; PostgreSQL URLs use the psycopg 3 driver."""
    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{url}"
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def migrate(url: str) -> None:
    """Brings the schema to the latest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    command.upgrade(config, "head")


def make_engine(url: str, *, upgrade: bool = True):
    """The service's engine: migrates to the latest schema (the service and the demo own
    their database). Read-only commands use `open_read_only` instead."""
    full = database_url(url)
    engine = create_engine(full, connect_args={"timeout": 30} if full.startswith("sqlite") else {})
    if upgrade:
        try:
            migrate(url)
        except OperationalError as error:
            raise DatabaseError(f"database {url} cannot be used: {_first_line(error)}") from None
    return engine


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", error)) or type(error).__name__
    return text.splitlines()[0][:200]


def read_only_engine(url: str):
    """An engine that cannot change the database: SQLite opened with mode=ro (a missing file is
    not created either); a server URL as given (the dashboard's role is read-only there)."""
    if "://" not in url:
        return create_engine(f"sqlite:///file:{Path(url).resolve()}?mode=ro&uri=true", connect_args={"timeout": 5})
    return create_engine(database_url(url))


def probe(engine, url: str) -> tuple[frozenset[str], str | None]:
    """(table names, Alembic revision or None), read without writing; an unreadable database
    is one DatabaseError line."""
    try:
        with engine.connect() as connection:
            tables = frozenset(inspect(connection).get_table_names())
            revision = (connection.exec_driver_sql("select version_num from alembic_version").scalar()
                        if "alembic_version" in tables else None)
    except (OperationalError, DBAPIError) as error:
        raise DatabaseError(f"database {url} cannot be read: {_first_line(error)}") from None
    return tables, revision


def open_read_only(url: str):
    """A read-only engine (`read_only_engine`), checked to be the agent's database at this
    schema revision."""
    if "://" not in url:
        path = Path(url)
        if not path.exists():
            raise DatabaseError(f"database {url} not found")
        if path.is_dir():
            raise DatabaseError(f"database {url} is a directory, not a SQLite file")
    engine = read_only_engine(url)
    tables, revision = probe(engine, url)
    if "alembic_version" not in tables or "proposal" not in tables:
        raise DatabaseError(f"database {url} is not a risk-agent database (no agent tables)")
    if revision != SCHEMA_REVISION:
        raise DatabaseError(f"database {url} is at schema revision {revision}; this version reads {SCHEMA_REVISION} "
                            f"(run `risk-agent db-upgrade --db {url}`)")
    return engine


def transition(session: Session, proposal: ProposalRow, new_state: ProposalState, **fields) -> ProposalRow:
    """Moves a proposal along the state machine and commits; refuses illegal moves."""
    current = ProposalState(proposal.state)
    if new_state not in ALLOWED_TRANSITIONS.get(current, set()):
        raise InvalidTransition(f"proposal {proposal.id}: {current} -> {new_state} is not allowed")
    proposal.state = new_state
    proposal.updated_at = utcnow()
    for name, value in fields.items():
        setattr(proposal, name, value)
    session.add(proposal)
    session.commit()
    session.refresh(proposal)
    return proposal


def proposals_by_state(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for proposal in session.exec(select(ProposalRow)).all():
        counts[proposal.state] = counts.get(proposal.state, 0) + 1
    return dict(sorted(counts.items()))
