"""risk-agent: the command line of the service, the enclave, the chain tools and backtests.

Errors users can act on (bad config, a node that is down, a missing artifact) print one line
on stderr and exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.cli_data import data_app
from agent.errors import RiskAgentError
from chain.errors import ChainError
from enclave.errors import EnclaveError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.splitlines()[0])
chain_app = typer.Typer(no_args_is_help=True, help="Local nodes, deployment and market reads.")
enclave_app = typer.Typer(no_args_is_help=True, help="Enclave image measurement, attestation and registration.")
app.add_typer(chain_app, name="chain")
app.add_typer(enclave_app, name="enclave")
app.add_typer(data_app, name="data")

USER_ERRORS: tuple[type[Exception], ...] = (RiskAgentError, ChainError, EnclaveError)


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def signer_from_env(w3, key_env: str | None, option: str):
    """The account whose hex key is in `key_env`; on a local anvil chain, its first dev account."""
    from eth_account import Account

    from chain.node import ANVIL_CHAIN_ID, dev_accounts

    if key_env:
        key = os.environ.get(key_env)
        if not key:
            raise fail(f"environment variable {key_env} is not set")
        return Account.from_key(key)
    if w3.eth.chain_id == ANVIL_CHAIN_ID:
        return dev_accounts(w3)[0]
    raise fail(f"not a local anvil chain: give {option} NAME")


def not_yet(issue: int) -> typer.Exit:
    return fail(f"this command is not built yet (tracked in issue {issue})")


@app.command()
def demo(
    cycles: Annotated[int, typer.Option(min=1, max=28, help="Days to replay around the 2021-05-19 crash (one decision a day).")] = 10,
    db: Annotated[Path, typer.Option(help="SQLite file the demo writes (replaced).")] = Path("var/demo.sqlite"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the whole system on embedded defaults: Aave v3 on the in-process EVM, SQLite, local enclave."""
    from tqdm import tqdm

    from agent.demo import run_demo, summary_json
    from enclave.nsm import DEFAULT_HOME

    check_writable_file(db)
    typer.echo(f"demo: deploying Aave v3 and the steward to the in-process EVM, starting the enclave, "
               f"replaying {cycles} days of prices...", err=True)
    with tqdm(total=cycles * 24, desc="replay", unit="h", file=sys.stderr, disable=as_json) as bar:
        summary = run_demo(cycles, db, DEFAULT_HOME, progress=lambda done, _total: bar.update(done - bar.n))
    if as_json:
        typer.echo(summary_json(summary))
        return
    typer.echo(f"prices: {summary.price_source.split('; ')[0]}; {summary.hours_replayed} hours replayed, "
               f"WETH ${summary.weth_price_start_usd:,.2f} -> ${summary.weth_price_end_usd:,.2f}")
    typer.echo(f"enclave {summary.enclave_address} (measurement {summary.measurement[:16]}...) registered through the registrar and timelock")
    typer.echo(f"decisions: {summary.decisions}; proposals by state: "
               + ", ".join(f"{state} {count}" for state, count in summary.proposals_by_state.items()))
    typer.echo(f"{'WETH':<28}{'before':>14}{'after':>14}")
    for key, value in summary.weth_before.items():
        typer.echo(f"  {key:<26}{value:>14,}{summary.weth_after[key]:>14,}")
    typer.echo(f"liquidations: {summary.liquidations}; bad debt (debt left on accounts with no collateral): "
               f"${summary.bad_debt_usd:,.2f} on {summary.accounts_with_bad_debt} accounts")
    typer.echo(f"database: {summary.database} ({summary.seconds:.0f} s)")
    typer.echo(f"verify a proposal:  risk-agent verify 1 --db {summary.database}")
    typer.echo(f"open the dashboard: risk-agent dashboard --db {summary.database}")


def check_writable_file(path: Path) -> None:
    """A file the command will write: its directory must exist (nothing is created silently
    elsewhere) and it must not be a directory."""
    if path.is_dir():
        raise fail(f"{path} is a directory, not a file")
    if not path.parent.exists():
        raise fail(f"directory {path.parent} does not exist")


@app.command()
def run(config: Annotated[Path, typer.Option(help="TOML config file.")]) -> None:
    """Run the agent service on its schedule (SIGTERM or Ctrl-C stops it cleanly)."""
    from agent.config import AgentConfig
    from agent.service import run_service

    run_service(AgentConfig.load(config))


@app.command()
def status(
    db: Annotated[str, typer.Option(help="Database file or URL.")] = "var/agent.sqlite",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show proposals by state, each job's last success and error, and the last snapshot."""
    from sqlmodel import Session, col, select

    from agent.store import JobStatusRow, MarketSnapshotRow, make_engine, proposals_by_state

    if "://" not in db and not Path(db).exists():
        raise fail(f"database {db} not found")
    with Session(make_engine(db)) as session:
        counts = proposals_by_state(session)
        job_rows = session.exec(select(JobStatusRow).order_by(JobStatusRow.name)).all()
        last = session.exec(select(MarketSnapshotRow).order_by(col(MarketSnapshotRow.block_number).desc())).first()
    report = {
        "proposals": counts,
        "last_snapshot": {"block": last.block_number, "timestamp": last.block_timestamp} if last else None,
        "jobs": {j.name: {"runs": j.runs, "errors": j.errors, "last_success_at": str(j.last_success_at),
                          "last_error": j.last_error} for j in job_rows},
    }
    if as_json:
        typer.echo(json.dumps(report, indent=1))
        return
    typer.echo("proposals: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))
    typer.echo(f"last snapshot: {report['last_snapshot'] or 'none'}")
    for name, job in report["jobs"].items():
        error = f"; last error: {job['last_error']}" if job["last_error"] else ""
        typer.echo(f"  {name:<10} runs {job['runs']:>5}  errors {job['errors']:>4}  last ok {job['last_success_at']}{error}")


@app.command()
def verify(
    proposal_id: int,
    db: Annotated[str, typer.Option(help="Database file or URL.")] = "var/demo.sqlite",
    rpc: Annotated[str | None, typer.Option(help="Re-read the steward's record from this node.")] = None,
    trust_dev_root: Annotated[bool, typer.Option(help="Trust the local development root (demo/local profiles).")] = True,
) -> None:
    """Re-run a stored decision and check bytes, signature, attestation and the chain record."""
    from agent.verify import verify_proposal
    from enclave.attestation import TrustAnchors
    from enclave.nsm import DEFAULT_HOME, DevCa

    if "://" not in db and not Path(db).exists():
        raise fail(f"database {db} not found (run `make demo` first)")
    anchors = TrustAnchors()
    if trust_dev_root:
        anchors = anchors.with_root(DevCa.load_or_create(DEFAULT_HOME / "dev-ca").root_pem)
    w3 = None
    if rpc:
        from chain.node import connect

        w3 = connect(rpc)
    checks = verify_proposal(db, proposal_id, anchors, w3)
    for check in checks:
        typer.echo(f"{'ok  ' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    if not all(check.passed for check in checks):
        raise typer.Exit(code=1)


@app.command()
def backtest(
    assets: Annotated[str, typer.Option(help="Comma-separated assets, e.g. ETH or WETH,WBTC.")] = "ETH",
    start: Annotated[str, typer.Option("--from", help="First day (UTC).")] = "2020-03-01",
    end: Annotated[str, typer.Option("--to", help="Last day (UTC).")] = "2020-03-31",
    strategy: Annotated[str, typer.Option(help="agent, agent-no-delay, static-v3, static-v2, smart-ltv, chaos-caps.")] = "agent",
    baseline: Annotated[str, typer.Option(help="Strategy to compare against ('' for none).")] = "static-v3",
    data: Annotated[Path | None, typer.Option(help="A price file for the one asset (Binance, CoinGecko or timestamp,price).")] = None,
    seed: Annotated[int, typer.Option()] = 1,
    positions: Annotated[int, typer.Option(help="Borrower positions per asset.")] = 1_000,
    report: Annotated[Path, typer.Option(help="Directory for report.html and backtest.png.")] = Path("var/backtest"),
    db: Annotated[str | None, typer.Option(help="Save the run in this database (for the dashboard).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replay market history through a strategy against a baseline; writes a report."""
    from tqdm import tqdm

    from backtests.data import DataError
    from backtests.report import metrics_table, write_html
    from backtests.run import BacktestSpec, load_paths, run_backtest, with_strategy

    spec = BacktestSpec(tuple(a.strip() for a in assets.split(",") if a.strip()), start, end, strategy, seed, data,
                        positions_per_asset=positions)
    try:
        paths, start_hour = load_paths(spec)
        results = []
        for name in [strategy] + ([baseline] if baseline and baseline != strategy else []):
            with tqdm(total=len(paths[0].prices_usd) - start_hour, desc=name, unit="h", disable=as_json,
                      file=sys.stderr) as bar:
                results.append(run_backtest(with_strategy(spec, name), progress=lambda _t: bar.update(1)))
    except DataError as error:
        raise fail(str(error)) from None
    page = write_html(results, report, f"{','.join(spec.assets)} {start} to {end}: {' vs '.join(r.strategy for r in results)}")
    if db:
        save_runs(db, spec, results, str(page))
    if as_json:
        typer.echo(json.dumps({"report": str(page), "metrics": {r.strategy: r.metrics() for r in results}}, indent=1))
        return
    typer.echo(metrics_table(results).to_string(float_format=lambda v: f"{v:,.2f}"))
    typer.echo(f"report: {page}")


def save_runs(db: str, spec, results, report_path: str) -> None:
    from sqlmodel import Session

    from agent.store import BacktestRunRow, make_engine

    with Session(make_engine(db)) as session:
        for result in results:
            session.add(BacktestRunRow(strategy=result.strategy, assets=",".join(spec.assets), period_start=spec.start,
                                       period_end=spec.end, seed=spec.seed, metrics_json=json.dumps(result.metrics()),
                                       report_path=report_path))
        session.commit()


@app.command()
def sweep(
    assets: Annotated[str, typer.Option()] = "ETH",
    strategies: Annotated[str, typer.Option(help="Comma-separated strategy names.")] = "agent,static-v3",
    periods: Annotated[str, typer.Option(help="Comma-separated FROM:TO periods.")] = "2020-03-01:2020-03-31,2021-05-01:2021-05-31",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "1,2",
    depth_scales: Annotated[str, typer.Option(help="Comma-separated multipliers of the default DEX depth.")] = "1",
    workers: Annotated[int, typer.Option(help="Local Dask workers.")] = 2,
    scheduler: Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler.")] = None,
    out: Annotated[Path, typer.Option(help="CSV of the results table.")] = Path("var/sweep.csv"),
) -> None:
    """Run a grid of backtests (strategies x settings x periods x seeds) on Dask."""
    from tqdm import tqdm

    from backtests.baselines import strategy_for
    from backtests.data import DataError
    from backtests.run import BacktestSpec, load_paths
    from backtests.sweep import grid, run_sweep

    base = BacktestSpec(tuple(a.strip() for a in assets.split(",")), "", "")
    try:
        period_list = [tuple(p.split(":")) for p in periods.split(",")]
        specs = grid(base, strategies.split(","), period_list, [int(s) for s in seeds.split(",")],
                     [{"depth_scale": float(d)} for d in depth_scales.split(",")])
        for name in set(strategies.split(",")):
            strategy_for(name)
        for spec in {(s.start, s.end): s for s in specs}.values():
            load_paths(spec)  # bad input fails here, in one line, before any worker starts
    except (DataError, ValueError) as error:
        raise fail(str(error)) from None
    with tqdm(total=len(specs), desc="sweep", unit="run", file=sys.stderr) as bar:
        table = run_sweep(specs, workers=workers, scheduler=scheduler, progress=lambda _done: bar.update(1))
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    columns = ["strategy", "start", "seed", "depth_scale", "bad_debt_usd", "liquidated_debt_usd", "updates", "seconds"]
    typer.echo(table[columns].to_string(float_format=lambda v: f"{v:,.1f}"))
    typer.echo(f"table: {out}")


@app.command()
def dashboard(
    db: Annotated[str, typer.Option(help="Database file or URL (SQLite or PostgreSQL).")] = "var/demo.sqlite",
    port: Annotated[int, typer.Option()] = 8501,
) -> None:
    """Open the read-only Streamlit dashboard on a database."""
    import subprocess

    if "://" not in db and not Path(db).exists():
        raise fail(f"database {db} not found (run `make demo` first, or pass --db)")
    app_path = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    typer.echo(f"dashboard on http://127.0.0.1:{port} (database {db}); Ctrl-C to stop")
    command = [sys.executable, "-m", "streamlit", "run", str(app_path), "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]
    raise typer.Exit(subprocess.call(command, env={**os.environ, "RISK_AGENT_DASHBOARD_DB": db}))


@enclave_app.command("measure")
def enclave_measure(
    manifest: Annotated[bool, typer.Option(help="Also print the manifest (path, size, SHA-384).")] = False,
) -> None:
    """Print the enclave image measurement (SHA-384 over the sorted manifest, as PCR0)."""
    from enclave.image import measure

    measurement = measure()
    if manifest:
        typer.echo(measurement.manifest.decode(), nl=False)
    typer.echo(measurement.hex)


@enclave_app.command("verify")
def enclave_verify(
    document: Annotated[Path, typer.Argument(help="Attestation document (CBOR COSE_Sign1).")],
    measurement: Annotated[str, typer.Option(help="Expected PCR0, hex.")],
    nonce: Annotated[str | None, typer.Option(help="Expected nonce, hex.")] = None,
    max_age: Annotated[float | None, typer.Option(help="Maximum age in seconds.")] = None,
    at_document_time: Annotated[bool, typer.Option(help="Judge age at the document's own timestamp (archived documents).")] = False,
    trust_dev_root: Annotated[Path | None, typer.Option(help="Also trust this development root (PEM); never in production.")] = None,
) -> None:
    """Verify an attestation document; exit 0 only when every check holds."""
    from enclave.attestation import TrustAnchors, verify_document

    try:
        raw = document.read_bytes()
        expected = bytes.fromhex(measurement.removeprefix("0x"))
        expected_nonce = bytes.fromhex(nonce.removeprefix("0x")) if nonce else None
    except FileNotFoundError:
        raise fail(f"document {document} not found") from None
    except ValueError:
        raise fail("--measurement and --nonce must be hex") from None
    anchors = TrustAnchors()
    if trust_dev_root:
        anchors = anchors.with_root(trust_dev_root.read_bytes())
    import cbor2

    now_ms = None
    if at_document_time:
        try:
            now_ms = cbor2.loads(cbor2.loads(raw)[2])["timestamp"]
        except Exception:  # noqa: BLE001 - the verifier below gives the precise reason
            now_ms = None
    verified = verify_document(raw, expected_measurement=expected, anchors=anchors, expected_nonce=expected_nonce,
                               max_age_s=max_age, now_ms=now_ms)
    typer.echo(f"verified: module {verified.module_id}, PCR0 {verified.measurement.hex()[:24]}..., "
               f"key {verified.enclave_address or 'none'}, chain {' <- '.join(verified.certificate_chain)}")


@enclave_app.command("serve")
def enclave_serve(
    port: Annotated[int, typer.Option()] = 0,
    backend: Annotated[str, typer.Option(help="local or nitro")] = "local",
) -> None:
    """Run the enclave process in the foreground (what the agent starts in local mode)."""
    from enclave.server import main as serve

    serve(["--port", str(port), "--backend", backend])


@enclave_app.command("register")
def enclave_register(
    url: Annotated[str, typer.Option(help="Enclave endpoint.")],
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL.")],
    deployment_file: Annotated[Path, typer.Option("--deployment")] = Path("var/deployment.json"),
    governance_key_env: Annotated[str | None, typer.Option(help="Env var with the governance proposer's key.")] = None,
    trust_dev_root: Annotated[Path | None, typer.Option(help="Trust this development root (PEM).")] = None,
) -> None:
    """Attest an enclave with a fresh nonce and schedule its registration in the timelock."""

    from agent.registration import schedule_registration
    from chain.deployment import Deployment
    from chain.node import connect
    from chain.steward import StewardClient
    from enclave.attestation import TrustAnchors
    from enclave.client import EnclaveClient
    from enclave.image import measure

    deployment = Deployment.read(deployment_file)
    w3 = connect(rpc)
    governance = signer_from_env(w3, governance_key_env, "--governance-key-env")
    anchors = TrustAnchors().with_root(trust_dev_root.read_bytes()) if trust_dev_root else TrustAnchors()
    attested = EnclaveClient(url, measure().digest, anchors).attest()
    operation_id = schedule_registration(StewardClient(w3, deployment, governance), attested)
    typer.echo(f"enclave key {attested.enclave_address} attested; registration scheduled as operation 0x{operation_id.hex()} "
               f"(executable after {deployment.min_delay_seconds} s unless the guardian cancels it)")


@chain_app.command("deploy")
def chain_deploy(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the node.")],
    out: Annotated[Path, typer.Option(help="Where to write the deployment file.")] = Path("var/deployment.json"),
    min_delay: Annotated[int, typer.Option(help="Timelock delay in seconds (1 day in production).")] = 86_400,
    deployer_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the deployer's hex private key.")
    ] = None,
    guardian: Annotated[str | None, typer.Option(help="Guardian address (veto, pause).")] = None,
) -> None:
    """Deploy pool, oracle, feeds, timelock and steward to a node and print the addresses."""

    from chain.deploy import SystemConfig, deploy_system
    from chain.node import ANVIL_CHAIN_ID, connect, dev_accounts

    w3 = connect(rpc)
    deployer = signer_from_env(w3, deployer_key_env, "--deployer-key-env")
    guardian_address = guardian or (dev_accounts(w3)[1].address if w3.eth.chain_id == ANVIL_CHAIN_ID else deployer.address)
    deployment = deploy_system(w3, deployer, guardian_address, SystemConfig(min_delay_seconds=min_delay))
    deployment.write(out)
    typer.echo(f"deployed to chain {deployment.chain_id}; deployment file: {out}")
    rows = {
        "pool (data provider, rate strategy)": deployment.market.pool,
        "oracle": deployment.market.oracle,
        "multicall3": deployment.market.multicall,
        "timelock": deployment.timelock,
        "steward": deployment.steward,
    }
    rows.update({f"{a.symbol} token / feed": f"{a.token} / {a.aggregator}" for a in deployment.assets})
    for label, address in rows.items():
        typer.echo(f"  {label:<36} {address}")


@chain_app.command("read")
def chain_read(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the node.")],
    deployment_file: Annotated[Path, typer.Option("--deployment", help="Deployment file.")] = Path("var/deployment.json"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Read every reserve in one Multicall3 round trip and print it."""
    from dataclasses import asdict

    from chain.deployment import Deployment
    from chain.node import connect
    from chain.reader import MarketReader

    deployment = Deployment.read(deployment_file)
    snapshot = MarketReader(connect(rpc), deployment.market).read()
    if as_json:
        typer.echo(json.dumps({"block": snapshot.block_number, "reserves": [asdict(r) for r in snapshot.reserves]}, indent=1))
        return
    typer.echo(f"block {snapshot.block_number} at {snapshot.block_timestamp}")
    typer.echo(f"{'asset':<8}{'price $':>14}{'LTV':>7}{'LT':>7}{'LB':>7}{'util':>8}{'supply cap':>16}{'borrow cap':>16}")
    for r in snapshot.reserves:
        typer.echo(
            f"{r.symbol:<8}{r.price_usd_e8 / 1e8:>14,.2f}{r.ltv_bps:>7}{r.liquidation_threshold_bps:>7}"
            f"{r.liquidation_bonus_bps:>7}{r.utilization:>8.1%}{r.supply_cap_tokens:>16,}{r.borrow_cap_tokens:>16,}"
        )


def main() -> None:
    try:
        app()
    except USER_ERRORS as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
