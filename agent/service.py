"""The agent service: the jobs on APScheduler, each never twice at once (max_instances=1,
coalesce), each surviving failures with exponential backoff, all logging one JSON line per
event, with a Prometheus endpoint (cycles, errors, proposals by state, last ingest)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from sqlmodel import Session, func, select

from agent import jobs
from agent.config import AgentConfig
from agent.jobs import AgentContext
from agent.store import JobStatusRow, ProposalRow, ProposalState, make_engine

log = logging.getLogger("risk_agent")
DECIDE_CHECK_S = 300


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "event": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        return json.dumps(line, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLines())
    root = logging.getLogger("risk_agent")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    scheduler_log = logging.getLogger("apscheduler")
    scheduler_log.handlers[:] = [handler]
    scheduler_log.setLevel(logging.WARNING)
    scheduler_log.propagate = False


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.cycles = Counter("risk_agent_job_runs", "Successful job runs", ["job"], registry=self.registry)
        self.errors = Counter("risk_agent_job_errors", "Failed job runs", ["job"], registry=self.registry)
        self.proposals = Gauge("risk_agent_proposals", "Proposals by state", ["state"], registry=self.registry)
        self.last_ingest = Gauge("risk_agent_last_successful_ingest_timestamp_seconds", "Unix time of the last ingest",
                                 registry=self.registry)


@dataclass
class JobRunner:
    """One job with its backoff: after n consecutive failures it waits base x 2^n (capped)."""

    name: str
    function: Callable[[AgentContext], object]
    context: AgentContext
    metrics: Metrics
    max_backoff_s: float = 300
    base_backoff_s: float = 1
    failures: int = 0
    next_allowed: float = 0.0

    def __call__(self) -> bool:
        if time.monotonic() < self.next_allowed:
            return False
        try:
            self.function(self.context)
        except Exception as error:  # noqa: BLE001 - the service must outlive any one failure
            self.failures += 1
            delay = min(self.base_backoff_s * 2**self.failures, self.max_backoff_s)
            self.next_allowed = time.monotonic() + delay
            self.metrics.errors.labels(self.name).inc()
            message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:300]
            log.error("job failed", extra={"fields": {"job": self.name, "error": message, "retry_in_s": delay}})
            if type(error).__name__ in ("EnclaveUnavailableError", "EnclaveAnswerError"):
                self.context.enclave.attested = None  # re-attest (a restarted enclave has a new key)
            self._record(error=message)
            return False
        self.failures = 0
        self.next_allowed = 0.0
        self.metrics.cycles.labels(self.name).inc()
        if self.name == "ingest":
            self.metrics.last_ingest.set(time.time())
        self._record()
        return True

    def _record(self, error: str | None = None) -> None:
        """Job status for `risk-agent status`; a locked database must not kill the job."""
        try:
            with Session(self.context.engine) as session:
                row = session.get(JobStatusRow, self.name) or JobStatusRow(name=self.name)
                row.runs += 1
                now = datetime.now(tz=UTC)
                if error is None:
                    row.last_success_at = now
                else:
                    row.errors += 1
                    row.last_error, row.last_error_at = error, now
                session.add(row)
                session.commit()
        except Exception as failure:  # noqa: BLE001
            log.warning("job status not recorded", extra={"fields": {"job": self.name, "error": str(failure)[:200]}})


def health(ctx: AgentContext, metrics: Metrics) -> None:
    with Session(ctx.engine) as session:
        counts = dict(session.exec(select(ProposalRow.state, func.count()).group_by(ProposalRow.state)).all())
    for state in ProposalState:
        metrics.proposals.labels(state.value).set(counts.get(state.value, 0))
    log.info("health", extra={"fields": {"proposals": counts, "block": ctx.w3.eth.block_number}})


def build_context(config: AgentConfig) -> tuple[AgentContext, list[Callable[[], None]]]:
    """Connects everything the jobs need; returns the context and what to close at exit."""
    from chain.deployment import Deployment
    from chain.errors import DeploymentFileError
    from chain.node import connect, dev_accounts
    from chain.steward import RegistrarClient, StewardClient
    from enclave.attestation import TrustAnchors
    from enclave.client import EnclaveClient, start_enclave
    from enclave.image import measure
    from enclave.nsm import DEFAULT_HOME, DevCa

    closers: list[Callable[[], None]] = []
    w3 = connect(config.rpc_url)
    if w3.eth.chain_id != config.chain_id:
        from agent.config import ConfigError

        raise ConfigError("chain_id", f"{config.chain_id} configured but the node at rpc_url is chain {w3.eth.chain_id}")
    deployment = Deployment.read(config.deployment_file)
    if deployment.chain_id != config.chain_id:
        raise DeploymentFileError(f"deployment file {config.deployment_file} is for chain {deployment.chain_id}")
    if deployment.steward is None:
        raise DeploymentFileError(f"deployment file {config.deployment_file} names no steward")
    operator = config.operator_account(dev_accounts(w3) if config.profile != "production" else None)
    dev_ca_dir = config.enclave.dev_ca_dir or DEFAULT_HOME / "dev-ca"
    anchors = TrustAnchors()
    if config.enclave.trust_dev_root:
        anchors = anchors.with_root(DevCa.load_or_create(dev_ca_dir).root_pem)
    token = config.enclave_token()  # None in demo/local: the service's own enclave runs with --dev
    url = config.enclave.url
    if url is None:
        process = start_enclave(dev_ca_dir=dev_ca_dir, backend=config.enclave.backend, token=token)
        closers.append(process.stop)
        url = process.url
    relay = StewardClient(w3, deployment.steward, deployment.multicall, operator, from_block=deployment.deployed_at_block)
    registrar = None
    if config.enclave.auto_register:
        if deployment.registrar is None:
            raise DeploymentFileError(f"enclave.auto_register needs a registrar in {config.deployment_file}")
        registrar = RegistrarClient(w3, deployment.registrar, operator)
    ctx = AgentContext(
        engine=make_engine(config.database_url), w3=w3, deployment=deployment, relay=relay,
        enclave=EnclaveClient(url, measure().digest, anchors, config.enclave.max_attestation_age_s, token=token),
        assets=config.assets, registrar=registrar, liquidity_depth_usd=config.liquidity_depth_usd,
    )
    for symbol in config.assets:
        ctx.reader.read().reserve(symbol)  # an asset the market does not list fails at start, by name
    for symbol, source in config.backfill_sources().items():
        series = source.load(symbol)
        times = series.prices_usd.index.as_unit("s").asi8
        added = jobs.backfill(ctx, symbol, times, series.prices_usd.to_numpy(), series.observation_source)
        log.info("backfilled", extra={"fields": {"asset": symbol, "points": added}})
    return ctx, closers


def run_service(config: AgentConfig, stop: threading.Event | None = None) -> None:
    configure_logging()
    stop = stop or threading.Event()
    ctx, closers = build_context(config)
    metrics = Metrics()
    if config.metrics_port is not None:
        start_http_server(config.metrics_port, addr="127.0.0.1", registry=metrics.registry)
    schedules = config.schedules
    runners = {
        "ingest": (JobRunner("ingest", jobs.ingest, ctx, metrics, config.max_backoff_s), schedules.ingest_s),
        # Checked often, decides when due (jobs.decision_due_at): a skipped first run (an enclave
        # key waiting for its registration) must not wait a whole decision interval.
        "decide": (JobRunner("decide", jobs.decide, ctx, metrics, config.max_backoff_s),
                   schedules.decide_s or min(ctx.config.window.decision_interval_s, DECIDE_CHECK_S)),
        "submit": (JobRunner("submit", jobs.submit, ctx, metrics, config.max_backoff_s), schedules.submit_s),
        "execute": (JobRunner("execute", jobs.execute, ctx, metrics, config.max_backoff_s), schedules.execute_s),
        "reconcile": (JobRunner("reconcile", jobs.reconcile, ctx, metrics, config.max_backoff_s), schedules.reconcile_s),
        "health": (JobRunner("health", lambda c: health(c, metrics), ctx, metrics, config.max_backoff_s), schedules.health_s),
    }
    scheduler = BackgroundScheduler(timezone="UTC")
    for name, (runner, seconds) in runners.items():
        scheduler.add_job(runner, "interval", seconds=seconds, id=name, max_instances=1, coalesce=True,
                          next_run_time=datetime.now(tz=UTC))
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("service started", extra={"fields": {"profile": config.profile, "assets": config.assets,
                                                  "operator": ctx.relay.transactor.address}})
    scheduler.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=True)
        for close in closers:
            close()
        log.info("service stopped")
