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

from agent.cli_chain import chain_app, enclave_app
from agent.cli_common import check_writable_file, fail, parse_hex32
from agent.cli_data import data_app
from agent.errors import RiskAgentError
from chain.errors import ChainError
from enclave.errors import EnclaveError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.splitlines()[0])
app.add_typer(data_app, name="data")
app.add_typer(chain_app, name="chain")
app.add_typer(enclave_app, name="enclave")

USER_ERRORS: tuple[type[Exception], ...] = (RiskAgentError, ChainError, EnclaveError)


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
    proposal_id: Annotated[int | None, typer.Argument(help="A proposal in --db (omit with --update).")] = None,
    db: Annotated[str, typer.Option(help="Database file or URL (opened read-only).")] = "var/demo.sqlite",
    rpc: Annotated[str | None, typer.Option(help="Re-read the inputs and the record from this node.")] = None,
    deployment_file: Annotated[Path, typer.Option("--deployment", help="Deployment file (with --rpc).")] = Path("var/deployment.json"),
    update: Annotated[str | None, typer.Option(help="Update hash: verify from the chain alone (needs --rpc; no database).")] = None,
    trust_dev_root: Annotated[Path | None, typer.Option(help="Also trust this development root (PEM); never in production.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check an update: inputs hash, inputs re-read on chain, re-run bytes, signature,
    attestation, chain record. Exit 0 only when every check holds."""
    from agent.verify import verify_on_chain, verify_stored
    from chain.deployment import Deployment
    from enclave.attestation import TrustAnchors

    anchors = TrustAnchors()
    if trust_dev_root is not None:
        try:
            anchors = anchors.with_root(trust_dev_root.read_bytes())
        except (OSError, ValueError) as error:
            raise fail(f"--trust-dev-root {trust_dev_root} is not a PEM certificate ({type(error).__name__})") from None
    w3 = deployment = None
    if rpc:
        from chain.node import connect

        w3 = connect(rpc)
        deployment = Deployment.read(deployment_file)
        deployment.check_chain(w3)
    if update is not None:
        if w3 is None:
            raise fail("--update verifies from the chain alone: give --rpc and --deployment")
        checks = verify_on_chain(w3, deployment, parse_hex32(update, "--update"), anchors)
    elif proposal_id is None:
        raise fail("give a proposal id (with --db) or --update HASH (with --rpc)")
    else:
        checks = verify_stored(db, proposal_id, anchors, w3, deployment)
    if as_json:
        typer.echo(json.dumps([{"check": c.name, "passed": c.passed, "detail": c.detail} for c in checks], indent=1))
    else:
        for check in checks:
            typer.echo(f"{'ok  ' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    if not all(check.passed for check in checks):
        raise typer.Exit(code=1)


@app.command()
def propose(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the market's chain (a node or an anvil fork).")],
    addresses_provider: Annotated[str | None, typer.Option(help="The market's Aave v3 PoolAddressesProvider.")] = None,
    deployment_file: Annotated[Path | None, typer.Option("--deployment", help="A deployment file instead (provider, Multicall3, pairs, steward).")] = None,
    assets: Annotated[str | None, typer.Option(help="Comma-separated reserve symbols (default: every reserve).")] = None,
    steward: Annotated[str | None, typer.Option(help="A RiskSteward on the market: its bounds and cooldowns apply.")] = None,
    enclave: Annotated[str | None, typer.Option(help="Use this enclave's nonce counter (to match what it would sign).")] = None,
    block: Annotated[int | None, typer.Option(min=0, help="Decide as of this block (default: latest).")] = None,
    multicall: Annotated[str | None, typer.Option(help="Multicall3 address (default: the canonical one).")] = None,
    positions_from_block: Annotated[int | None, typer.Option(min=0, help="Discover borrowers from pool events since this block.")] = None,
    depth_usd: Annotated[float | None, typer.Option(min=0.0, help="Stated DEX depth (USD) for reserves without a pair.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the recommendation as JSON.")] = False,
) -> None:
    """Shadow mode: read a live market, run the same decision path as the service and print
    what the enclave would sign (before -> after, rationale, metrics). No keys, no enclave
    registration, nothing submitted."""
    from agent.cli_common import parse_address
    from agent.shadow import shadow_decision
    from chain.deployment import CANONICAL_MULTICALL3, Deployment
    from chain.node import connect

    chosen = None
    if assets is not None:
        chosen = tuple(a.strip() for a in assets.split(",") if a.strip())
        if not chosen:
            raise fail("--assets is empty: name at least one reserve, or leave the option out for all")
    w3 = connect(rpc)
    pairs: dict[str, str] = {}
    if deployment_file is not None:
        deployment = Deployment.read(deployment_file)
        deployment.check_chain(w3)
        addresses_provider = addresses_provider or deployment.addresses_provider
        multicall = multicall or deployment.multicall
        steward = steward or deployment.steward
        pairs = deployment.dex_pairs
        positions_from_block = deployment.deployed_at_block if positions_from_block is None else positions_from_block
    if addresses_provider is None:
        raise fail("give --addresses-provider (or --deployment FILE)")
    result = shadow_decision(
        w3, parse_address(addresses_provider, "--addresses-provider"), chosen,
        parse_address(steward, "--steward") if steward else None, block, depth_usd,
        multicall=parse_address(multicall, "--multicall") if multicall else CANONICAL_MULTICALL3, dex_pairs=pairs,
        positions_from_block=positions_from_block, enclave=parse_address(enclave, "--enclave") if enclave else None,
    )
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=1))
        return
    for line in result.lines():
        typer.echo(line)


@app.command("db-upgrade")
def db_upgrade(db: Annotated[str, typer.Option(help="Database file or URL to bring to this version's schema.")]) -> None:
    """Migrate a database to this version's schema (the service does it on start; read-only
    commands never do)."""
    from agent.store import make_engine

    make_engine(db)
    typer.echo(f"database {db} is at the current schema")


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


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors a user can act on: the data and strategy-config families are imported lazily
    (they pull in pandas), only once something has failed."""
    from backtests.formats import DataError
    from strategies.config import StrategyConfigError
    from strategies.inputs import InputsError

    return (*USER_ERRORS, DataError, StrategyConfigError, InputsError)


def main() -> None:
    try:
        app()
    except Exception as error:  # noqa: BLE001 - sorted below: a user's error is one line, a bug keeps its traceback
        if not isinstance(error, _user_errors()):
            raise
        typer.echo(f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
