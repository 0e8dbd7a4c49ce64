"""The agent's store (SQLModel): snapshots, decisions with their exact inputs, proposals and
their state machine, attestation documents. SQLite by default, PostgreSQL by URL.

Proposal states: drafted -> signed -> submitted -> queued -> executed | cancelled | expired
| failed. Every transition is one committed transaction, so a crash leaves each proposal in
exactly one state and the service resumes from there."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import BigInteger, Column, LargeBinary, Text
from sqlmodel import Field, Session, SQLModel, create_engine, select


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
    ProposalState.SIGNED: {ProposalState.SUBMITTED, ProposalState.QUEUED, ProposalState.EXPIRED, ProposalState.FAILED},
    ProposalState.SUBMITTED: {ProposalState.QUEUED, ProposalState.EXPIRED, ProposalState.FAILED},
    ProposalState.QUEUED: {ProposalState.EXECUTED, ProposalState.CANCELLED, ProposalState.FAILED},
}


class InvalidTransition(Exception):
    pass


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
    error: str | None = None


class PricePointRow(SQLModel, table=True):
    """One observed price (and utilization) of an asset: from chain ingest or a backfill."""

    __tablename__ = "price_point"
    id: int | None = Field(default=None, primary_key=True)
    asset_symbol: str = Field(index=True)
    timestamp_s: int = Field(index=True, sa_type=BigInteger)
    price_usd: float
    utilization: float | None = None
    source: str


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
    full = database_url(url)
    engine = create_engine(full, connect_args={"timeout": 30} if full.startswith("sqlite") else {})
    if upgrade:
        migrate(url)
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
