"""`risk-agent report ID`: the post a DAO reads on its forum before the veto deadline.

One proposal, from the store alone (read-only): the parameters before and after; the method
(strategy config named by its hash: horizon, confidence, risk appetite); VaR and ES; where
every input came from (anchor block and hash, each feed's rounds, the DEX pair, files by
SHA-256, the inputs hash and the transaction that published them); positions and debt the
change makes liquidatable; Monte Carlo bad debt, current against proposed; a seeded backtest
of the two parameter sets over the last days of the stored price history; the attestation
(the dashboard's "verified": the signature recovers to the attested key and that key is the
decision's enclave); how to verify it and how to veto it.

Times are on the chain's clock (deadlines) and, for a replay, also in the data's own time.
Text from data (symbols, rationales, sources) is escaped, never rendered as markup."""

from __future__ import annotations

import base64
import io
import json
import time
from dataclasses import asdict, dataclass, field, replace
from itertools import groupby
from pathlib import Path

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from agent.errors import RiskAgentError
from agent.status import time_shift_s
from agent.store import AttestationRow, DecisionRow, MarketSnapshotRow, PricePointRow, ProposalRow
from agent.text import html_literal, markdown_literal
from agent.times import data_time, time_left, utc, utc_datetime
from strategies.params import REGISTRY, SPECS, Param, RiskParams

BACKTEST_POSITIONS = 1_000
BACKTEST_SEED = 1
MIN_BACKTEST_HOURS = 48


class ProposalNotFoundError(RiskAgentError):
    """No proposal with that id in the database."""


@dataclass(frozen=True)
class Change:
    parameter: str  # the RiskParams field, e.g. liquidation_threshold_bps
    label: str
    before: int
    after: int
    before_text: str
    after_text: str
    change_text: str


@dataclass(frozen=True)
class Figure:
    name: str  # file stem, e.g. backtest
    title: str
    png: bytes = field(repr=False)


@dataclass(frozen=True)
class RiskReport:
    proposal_id: int
    asset: str
    state: str
    path: str  # fast (applied at once) or slow (timelock)
    database: str
    time_shift_s: int
    decided: dict
    changes: tuple[Change, ...]
    reason: str
    dropped: dict
    method: dict
    tail: dict
    provenance: dict
    liquidations: dict
    monte_carlo: dict
    backtest: dict
    attestation: dict
    verify_commands: tuple[str, ...]
    veto: dict
    figures: tuple[Figure, ...] = ()


# ------------------------------------------------------------------ numbers as people read them


def _percent_bps(value: int) -> str:
    return f"{value / 100:,.2f}%"


def value_text(field_name: str, value: int) -> str:
    """One parameter value with its unit: 8275 bps -> 82.75%; a bonus 10500 -> 5.00%
    (over the debt repaid); caps in whole tokens; rates in % a year."""
    if field_name == "liquidation_bonus_bps":
        return f"{(value - 10_000) / 100:,.2f}%"
    if field_name.endswith("_tokens"):
        return f"{value:,} tokens"
    if field_name.endswith("_rate_bps") or "slope" in field_name:
        return f"{value / 100:,.2f}% a year"
    return _percent_bps(value)


def change_text(field_name: str, before: int, after: int) -> str:
    delta = after - before
    if field_name.endswith("_tokens"):
        share = f" ({delta / before:+.1%})" if before else ""
        return f"{delta:+,} tokens{share}"
    return f"{delta:+,} bps"


def _usd(value: float) -> str:
    return f"${value:,.0f}" if abs(value) >= 100 else f"${value:,.2f}"


# ------------------------------------------------------------------ building


def build_report(engine, proposal_id: int, *, database: str, policy=None, backtest_days: int = 90,
                 now_s: int | None = None) -> RiskReport:
    """Everything the report says, computed from the store (never written). `now_s` (default:
    the later of the wall clock and the last block seen) is when "time left" is counted from."""
    from agent.verification import TrustPolicy, verify_proposal
    from enclave.image import measure
    from strategies.inputs import InputsError, decode_inputs

    with Session(engine) as session:
        proposal = session.get(ProposalRow, proposal_id)
        if proposal is None:
            raise ProposalNotFoundError(f"no proposal {proposal_id} in {database}")
        decision = session.get(DecisionRow, proposal.decision_id)
        attestation = session.get(AttestationRow, decision.attestation_id) if decision.attestation_id else None
        shift = time_shift_s(session)
        last = session.exec(select(MarketSnapshotRow).order_by(col(MarketSnapshotRow.block_number).desc())).first()
    try:
        inputs = decode_inputs(decision.inputs_canonical)
    except InputsError as error:
        raise RiskAgentError(f"proposal {proposal_id}: its stored inputs are unreadable ({error})") from None
    now_s = now_s if now_s is not None else max(int(time.time()), last.block_timestamp if last else 0)
    recommendation = json.loads(decision.recommendation_json)
    asset_rec = next((a for a in recommendation.get("assets", []) if a.get("symbol") == proposal.asset_symbol), {})
    metrics = asset_rec.get("metrics", {})
    before, after = json.loads(proposal.params_before_json), json.loads(proposal.params_after_json)
    changes = tuple(Change(spec.field, spec.label, int(before[spec.field]), int(after[spec.field]),
                           value_text(spec.field, int(before[spec.field])),
                           value_text(spec.field, int(after[spec.field])),
                           change_text(spec.field, int(before[spec.field]), int(after[spec.field])))
                    for spec in REGISTRY if spec.field in after and after[spec.field] != before.get(spec.field))
    params_before = RiskParams(**{spec.field: int(before[spec.field]) for spec in REGISTRY})
    params_after = RiskParams(**{spec.field: int(after[spec.field]) for spec in REGISTRY})
    update = json.loads(proposal.update_json)
    decided = {"anchor_block": inputs.anchor.block_number, "anchor_utc": utc(inputs.anchor.timestamp_s),
               "anchor_data_utc": data_time(inputs.anchor.timestamp_s, shift) or None,
               "created_utc": utc_datetime(proposal.created_at) if proposal.created_at else None}
    try:
        asset_inputs = inputs.asset(proposal.asset_symbol)
    except KeyError:
        raise RiskAgentError(f"proposal {proposal_id} is for {proposal.asset_symbol!r}, which its decision's "
                             "inputs do not hold: the database is inconsistent") from None
    anchor_price = _last_price(asset_inputs)
    method, tail = _method(recommendation, metrics)
    liquidations, hf = _liquidations(inputs, proposal.asset_symbol, params_after, metrics)
    monte_carlo = {key: float(metrics[key]) for key in ("bad_debt_current_mean_usd", "bad_debt_current_var95_usd",
                                                        "bad_debt_proposed_mean_usd", "bad_debt_proposed_var95_usd")
                   if key in metrics}
    monte_carlo.update({"paths": method.get("montecarlo_paths"),
                        "liquidation_delay_hours": method.get("liquidation_delay_hours")})
    backtest, series = _backtest(engine, proposal.asset_symbol, inputs.anchor.timestamp_s, shift, params_before,
                                 params_after, float(metrics.get("liquidity_depth_usd", 0.0)) or 5e6,
                                 asset_inputs.supplied_tokens * anchor_price, backtest_days)
    verdict = verify_proposal(proposal, decision, attestation, steward=inputs.steward,
                              expected_measurement=measure().digest,
                              policy=policy or TrustPolicy())
    attested = {"verified": verdict.verified, "message": verdict.message,
                "checks": [{"check": c.name, "state": c.state.value, "detail": c.detail} for c in verdict.checks],
                "certificate_chain": list(verdict.chain), "enclave": decision.enclave_address,
                "measurement": decision.measurement, "signature": proposal.signature,
                "dev_root_trusted": bool(policy and policy.trust_dev_root)}
    digest = update_hash_hex(update, inputs.steward)
    report = RiskReport(
        proposal_id=proposal.id, asset=proposal.asset_symbol, state=proposal.state, path=proposal.path,
        database=database,
        time_shift_s=shift, decided=decided, changes=changes, reason=str(asset_rec.get("reason", "")),
        dropped={str(k): dated_reason(str(v)) for k, v in asset_rec.get("dropped", {}).items()},
        method=method, tail=tail, provenance=_provenance(inputs, decision, shift, metrics), liquidations=liquidations,
        monte_carlo=monte_carlo, backtest=backtest, attestation=attested,
        verify_commands=_verify_commands(proposal.id, database, digest, _trusted_root(policy)),
        veto=veto_instructions(proposal, update, inputs.steward, digest, now_s, shift),
    )
    return replace(report, figures=_figures(report, series, hf, params_before, params_after))


def param_label(name: str) -> str:
    """'BORROW_CAP' -> 'Borrow cap' (the registry's label; other text unchanged)."""
    return SPECS[Param[name]].label if name in Param.__members__ else name


def dated_reason(reason: str) -> str:
    """'in cooldown until 1796332023' -> 'in cooldown until 2026-12-02 21:07:03 UTC'."""
    import re

    return re.sub(r"until (\d{9,11})\b", lambda m: f"until {utc(int(m.group(1)))}", reason)


def _last_price(asset) -> float:
    _, values = asset.price_observations()
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else 0.0


def update_hash_hex(update: dict, steward: str) -> str:
    from chain.update import ParameterUpdate, update_hash

    return "0x" + update_hash(ParameterUpdate.from_json(update), steward).hex()


def strategy_config_for(config_hash: str):
    """The strategy config in this checkout whose hash is `config_hash` (None if none is)."""
    from strategies.config import CONFIG_DIR, StrategyConfigError, load_config

    for path in sorted(CONFIG_DIR.glob("*.toml")):
        try:
            config = load_config(path)
        except StrategyConfigError:
            continue
        if config.config_hash_hex == config_hash:
            return path, config
    return None, None


def _method(recommendation: dict, metrics: dict) -> tuple[dict, dict]:
    config_hash = str(recommendation.get("config_hash", ""))
    path, config = strategy_config_for(config_hash)
    method = {"strategy": recommendation.get("strategy"), "config_hash": config_hash,
              "config_file": str(path.relative_to(path.parents[2])) if path else None,
              "volatility_model": metrics.get("volatility_model"),
              "hourly_volatility": metrics.get("hourly_volatility"),
              "stressed_volatility": metrics.get("stressed_volatility"),
              "stressed_volatility_source": metrics.get("stressed_volatility_source"),
              "horizon_hours": metrics.get("horizon_hours"), "risk_gate": metrics.get("risk_gate"),
              "loosening_held": metrics.get("loosening_held"),
              "stress_window_covered": metrics.get("stress_window_covered"),
              "liquidity_depth_usd": metrics.get("liquidity_depth_usd"),
              "depth_source": metrics.get("depth_source")}
    tail = {"var_drop": metrics.get("var_drop"), "expected_shortfall_drop": metrics.get("expected_shortfall_drop"),
            "ltv_buffer_drop": metrics.get("ltv_buffer_drop"), "horizon_hours": metrics.get("horizon_hours")}
    if config is not None:
        appetite = config.risk_appetite
        method.update({"lt_confidence": appetite.lt_confidence, "ltv_confidence": appetite.ltv_confidence,
                       "ltv_horizon_hours": appetite.ltv_horizon_hours, "min_horizon_hours": appetite.min_horizon_hours,
                       "max_horizon_hours": appetite.max_horizon_hours,
                       "max_bad_debt_share": appetite.max_bad_debt_share,
                       "history_hours": config.window.history_hours, "montecarlo_paths": config.montecarlo.paths,
                       "liquidation_delay_hours": config.montecarlo.liquidation_delay_hours, "seed": config.seed})
        tail.update({"lt_confidence": appetite.lt_confidence, "ltv_confidence": appetite.ltv_confidence,
                     "ltv_horizon_hours": appetite.ltv_horizon_hours})
    return method, tail


def _segment(observations, shift: int) -> dict:
    times = observations.timestamps_s
    entry = {"source": observations.source, "observations": int(len(observations)),
             "first_utc": utc(int(times[0])) if len(times) else None,
             "last_utc": utc(int(times[-1])) if len(times) else None,
             "first_data_utc": data_time(int(times[0]), shift) or None if len(times) else None,
             "last_data_utc": data_time(int(times[-1]), shift) or None if len(times) else None}
    if observations.keys:
        entry["rounds"] = [int(min(observations.keys)), int(max(observations.keys))]
    source = observations.source
    if source.startswith("file:sha256:"):
        entry["kind"] = "file"
        entry["sha256"] = source.removeprefix("file:sha256:").split(";")[0]
    elif source.startswith("feed:"):
        entry["kind"] = "feed"
        entry["feed"] = source.removeprefix("feed:")
    else:
        entry["kind"] = "other"
    return entry


def _provenance(inputs, decision, shift: int, metrics: dict) -> dict:
    anchor = inputs.anchor
    assets = []
    for asset in inputs.assets:
        pair = asset.pair
        assets.append({
            "symbol": asset.symbol, "address": asset.address,
            "prices": [_segment(o, shift) for o in asset.prices],
            "utilization": _segment(asset.utilization, shift) if asset.utilization is not None else None,
            "pair": {"source": pair.source, "asset_reserve_tokens": pair.asset_reserve_tokens,
                     "quote_reserve_tokens": pair.quote_reserve_tokens, "quote": pair.quote_symbol,
                     "fallback_depth_usd": pair.fallback_depth_usd},
            "supplied_tokens": asset.supplied_tokens, "borrowed_tokens": asset.borrowed_tokens,
        })
    return {"chain_id": inputs.chain_id, "steward": inputs.steward, "enclave_nonce": inputs.enclave_nonce,
            "anchor": {"block": anchor.block_number, "hash": "0x" + anchor.block_hash.hex(),
                       "timestamp": anchor.timestamp_s,
                       "utc": utc(anchor.timestamp_s), "data_utc": data_time(anchor.timestamp_s, shift) or None},
            "assets": assets,
            "positions": {"source": inputs.positions.source, "accounts": len(inputs.positions.accounts)},
            "inputs_hash": "0x" + decision.inputs_hash.removeprefix("0x"),
            "inputs_bytes": len(decision.inputs_canonical),
            "inputs_publish_tx": decision.inputs_publish_tx,
            "depth_source": metrics.get("depth_source")}


def health_factors(inputs, symbol: str,
                   proposed_threshold_bps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(HF under the thresholds in force, HF with `symbol`'s threshold proposed, debt USD) per
    position with debt, at the anchor's last price of each collateral; and the collateral
    symbols the inputs do not price (their value is left out, so HF is understated)."""
    book = inputs.positions
    debt = np.asarray(book.debt_usd, dtype=float)
    current = np.zeros(len(debt))
    proposed = np.zeros(len(debt))
    unpriced = []
    listed = {a.symbol: a for a in inputs.assets}
    for collateral_symbol, tokens in book.collateral_tokens.items():
        asset = listed.get(collateral_symbol)
        if asset is None:
            unpriced.append(collateral_symbol)
            continue
        value = np.asarray(tokens, dtype=float) * _last_price(asset)
        threshold = asset.params.liquidation_threshold_bps / 1e4
        current += value * threshold
        proposed += value * (proposed_threshold_bps / 1e4 if collateral_symbol == symbol else threshold)
    with_debt = debt > 0
    return current[with_debt] / debt[with_debt], proposed[with_debt] / debt[with_debt], debt[with_debt], unpriced


def _liquidations(inputs, symbol: str, after: RiskParams, metrics: dict) -> tuple[dict, tuple]:
    hf_now, hf_after, debt, unpriced = health_factors(inputs, symbol, after.liquidation_threshold_bps)
    newly = (hf_now >= 1) & (hf_after < 1)
    already = hf_now < 1
    summary = {
        "positions_with_debt": int(len(debt)), "debt_usd": float(debt.sum()),
        "newly_liquidatable_positions": int(newly.sum()), "newly_liquidatable_debt_usd": float(debt[newly].sum()),
        "already_liquidatable_positions": int(already.sum()),
        "already_liquidatable_debt_usd": float(debt[already].sum()),
        "lowest_health_factor_now": float(hf_now.min()) if len(hf_now) else None,
        "lowest_health_factor_proposed": float(hf_after.min()) if len(hf_after) else None,
        "unpriced_collateral": unpriced,
        "strategy_newly_liquidatable_positions": metrics.get("newly_liquidatable_positions"),
        "strategy_newly_liquidatable_debt_usd": metrics.get("newly_liquidatable_debt_usd"),
        "positions_source": inputs.positions.source,
    }
    return summary, (hf_now, hf_after, debt)


def _stored_prices(engine, symbol: str, until_s: int, days: int) -> pd.Series:
    with Session(engine) as session:
        rows = session.exec(select(PricePointRow.timestamp_s, PricePointRow.price_usd)
                            .where(PricePointRow.asset_symbol == symbol, PricePointRow.timestamp_s <= until_s,
                                   PricePointRow.timestamp_s >= until_s - days * 86_400)
                            .order_by(PricePointRow.timestamp_s)).all()
    if not rows:
        return pd.Series(dtype=float)
    frame = pd.DataFrame(rows, columns=["t", "price"]).drop_duplicates("t", keep="last")
    frame = frame[np.isfinite(frame["price"]) & (frame["price"] > 0)]
    return pd.Series(frame["price"].to_numpy(), index=pd.to_datetime(frame["t"], unit="s", utc=True))


def _backtest(engine, symbol: str, anchor_s: int, shift: int, before: RiskParams, after: RiskParams, depth_usd: float,
              market_usd: float, days: int) -> tuple[dict, dict]:
    """The two parameter sets, held static over the stored history before the anchor."""
    from backtests.data import STABLECOINS
    from backtests.simulator import MarketPath, SimulationConfig, simulate

    prices = _stored_prices(engine, symbol, anchor_s, days)
    hourly = prices.resample("1h").last().ffill().dropna() if len(prices) else prices
    if len(hourly) < MIN_BACKTEST_HOURS:
        return {"ran": False, "reason": f"only {len(hourly)} hours of {symbol} prices stored before the anchor "
                                          f"(needs {MIN_BACKTEST_HOURS})"}, {}
    timestamps = hourly.index.as_unit("s").asi8.astype(np.int64)
    path = MarketPath(symbol, timestamps, hourly.to_numpy(dtype=float), depth_usd, symbol in STABLECOINS)
    collateral_usd = market_usd if market_usd > 0 else 100e6
    config = SimulationConfig(delay_hours=0, warmup_hours=0, positions_per_asset=BACKTEST_POSITIONS, seed=BACKTEST_SEED,
                              total_collateral_usd_per_asset=collateral_usd)
    runs = {name: simulate([path], {symbol: params}, None, config, name=name)
            for name, params in (("current", before), ("proposed", after))}
    span_days = (timestamps[-1] - timestamps[0]) / 86_400
    summary = {
        "ran": True, "hours": int(len(hourly)), "days": round(float(span_days), 1), "days_asked": days,
        "from_utc": utc(int(timestamps[0])), "to_utc": utc(int(timestamps[-1])),
        "from_data_utc": data_time(int(timestamps[0]), shift) or None, "to_data_utc": data_time(int(timestamps[-1]),
                                                                                                shift) or None,
        "observations": int(len(prices)), "price_start_usd": float(hourly.iloc[0]),
        "price_end_usd": float(hourly.iloc[-1]),
        "max_drawdown": float(1 - (hourly / hourly.cummax()).min()),
        "population": (f"{BACKTEST_POSITIONS:,} seeded borrowers (seed {BACKTEST_SEED}) holding "
                       f"{_usd(collateral_usd)} of {symbol} collateral in all (the reserve's supply at the anchor), "
                       "Pareto-distributed sizes, health factors 1.02 + log-normal, debt in a stablecoin opened at "
                       "each parameter set's LT and LTV; "
                       f"liquidations at the close factor and bonus with slippage into {_usd(depth_usd)} of depth; "
                       "parameters held fixed (no agent, no delay)"),
        "metrics": {name: run.metrics() for name, run in runs.items()},
    }
    series = {"timestamps_s": timestamps - shift, "price": hourly.to_numpy(dtype=float),
              **{f"bad_debt_{name}": run.series["bad_debt_usd"] for name, run in runs.items()}}
    return summary, series


def _trusted_root(policy) -> Path | None:
    """The development root this report trusted (its verify commands must name it too)."""
    if policy is None or not policy.trust_dev_root:
        return None
    return policy.dev_root_file or (policy.dev_ca_dir / "root.pem" if policy.dev_ca_dir else None)


def _verify_commands(proposal_id: int, database: str, digest: str, root: Path | None) -> tuple[str, ...]:
    trust = f" --trust-dev-root {root}" if root else ""
    return (f"risk-agent verify {proposal_id} --db {database}{trust}",
            f"risk-agent verify {proposal_id} --db {database} --rpc $RPC_URL --deployment deployment.json{trust}",
            f"risk-agent verify --update {digest} --rpc $RPC_URL --deployment deployment.json{trust}",
            "risk-agent enclave measure")


def veto_instructions(proposal, update: dict, steward: str, digest: str, now_s: int, shift: int) -> dict:
    """What the guardian can do about this proposal now: the steward call with the update's own
    values, a `cast` command, the ETA (chain clock and data time) and the time left."""
    params = "[" + ",".join(str(p) for p in update["params"]) + "]"
    values = "[" + ",".join(str(v) for v in update["values"]) + "]"
    call = f"veto({update['asset']}, {params}, {values}, {digest})"
    command = (f'cast send {steward} "veto(address,uint8[],uint256[],bytes32)" {update["asset"]} "{params}" "{values}" '
               f"{digest} --rpc-url $RPC_URL --from $GUARDIAN")
    entry = {"steward": steward, "call": call, "command": command, "update_hash": digest,
             "operation_id": proposal.operation_id, "eta": proposal.eta,
             "eta_utc": utc(proposal.eta) if proposal.eta else None,
             "eta_data_utc": data_time(proposal.eta, shift) or None if proposal.eta else None}
    if proposal.path == "fast" or (proposal.state == "executed" and not proposal.operation_id):
        entry.update(open=False,
                     text="Applied at once on the steward's fast path (it only tightens: lower LTV, LT or caps); "
                          "there is nothing to veto. The guardian can pause the steward to stop further updates.")
    elif proposal.state == "queued":
        entry.update(open=True, time_left=time_left(proposal.eta, now_s) if proposal.eta else None,
                     text=(f"Waiting in the timelock until {entry['eta_utc'] or 'its ETA'}"
                           + (f" ({time_left(proposal.eta, now_s)})" if proposal.eta else "")
                           + ". Until then the guardian can veto it through the steward, which cancels the "
                             "timelock operation and frees the parameters for the next update; after it, anyone "
                             "may execute it."))
    elif proposal.state == "cancelled":
        entry.update(open=False, text=f"Vetoed by the guardian (transaction {proposal.cancel_tx or 'seen on chain'}).")
    elif proposal.state == "executed":
        executed_at = proposal.executed_at_s  # None for rows stored before schema 0003
        own = f" ({data_time(executed_at, shift)} in the data's own time)" if executed_at and shift else ""
        when = f", at {utc(executed_at)} by the chain clock{own}" if executed_at else ""
        entry.update(open=False, text=f"Executed after the timelock delay (transaction {proposal.execute_tx or '-'})"
                                      f"{when}; a veto is no longer possible.")
    else:
        entry.update(open=proposal.state in ("signed", "submitted"),
                     text=f"State {proposal.state}: not in the timelock" + (
                         " yet; once relayed, the veto below applies until its ETA." if proposal.state in ("signed",
                                                                                                           "submitted")
                         else "; nothing to veto."))
    return entry


# ------------------------------------------------------------------ figures


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def _figures(report: RiskReport, series: dict, hf: tuple, before: RiskParams, after: RiskParams) -> tuple[Figure, ...]:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    when = "data's own time" if report.time_shift_s else "UTC"
    if series:
        times = pd.to_datetime(series["timestamps_s"], unit="s", utc=True)
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=(3, 2))
        top.plot(times, series["price"], color="#1f3b73", linewidth=1)
        top.set_ylabel(f"{report.asset} price (USD)")
        top.set_title(f"Backtest: {report.backtest['days']} days before the decision ({when})")
        for name, colour in (("current", "#b03a2e"), ("proposed", "#1e8449")):
            values = series[f"bad_debt_{name}"]
            bottom.plot(times, values, label=f"{name}: {_usd(float(values[-1]))}", color=colour)
        bottom.set_ylabel("cumulative bad debt (USD)")
        bottom.set_ylim(bottom=0,
                        top=max(1.0,
                                float(max(series["bad_debt_current"].max(), series["bad_debt_proposed"].max())) * 1.15))
        bottom.legend(loc="upper left")
        bottom.grid(alpha=0.3)
        figures.append(Figure("backtest", "Backtest: price and cumulative bad debt, current against proposed",
                              _png(figure)))
    mc = report.monte_carlo
    if "bad_debt_current_mean_usd" in mc:
        figure, axis = plt.subplots(figsize=(7, 3.5))
        labels = ["mean", "95th percentile"]
        current = [mc["bad_debt_current_mean_usd"], mc["bad_debt_current_var95_usd"]]
        proposed = [mc["bad_debt_proposed_mean_usd"], mc["bad_debt_proposed_var95_usd"]]
        x = np.arange(2)
        for offset, values, name, colour in ((-0.2, current, "current", "#b03a2e"),
                                             (0.2, proposed, "proposed", "#1e8449")):
            bars = axis.bar(x + offset, values, 0.4, label=name, color=colour)
            axis.bar_label(bars, labels=[_usd(v) for v in values], padding=2, fontsize=8)
        axis.set_xticks(x, labels)
        axis.set_ylabel("bad debt over the horizon (USD)")
        axis.set_ylim(bottom=0, top=max(1.0, max(current + proposed) * 1.2))
        axis.set_title(f"Monte Carlo bad debt ({mc.get('paths') or '?'} paths), current against proposed")
        axis.legend()
        figures.append(Figure("monte_carlo", "Monte Carlo bad debt, current against proposed", _png(figure)))
    hf_now, hf_after, _ = hf
    if len(hf_now):
        figure, axis = plt.subplots(figsize=(7, 3.5))
        top = float(min(max(np.percentile(np.concatenate([hf_now, hf_after]), 95), 1.5), 5.0))
        bins = np.linspace(0.5, top, 30)
        axis.hist(np.clip(hf_now, bins[0], bins[-1]), bins=bins, alpha=0.6, label="thresholds in force",
                  color="#b03a2e")
        axis.hist(np.clip(hf_after, bins[0], bins[-1]), bins=bins, alpha=0.6, label="proposed threshold",
                  color="#1e8449")
        axis.axvline(1.0, color="black", linestyle="--", linewidth=1)
        axis.set_xlabel("health factor at the anchor price (1.0: liquidatable)")
        axis.set_ylabel("positions")
        axis.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_title(f"Health factors of the {len(hf_now)} positions with debt")
        axis.legend()
        figures.append(Figure("health_factors", "Health factors of the positions, thresholds in force against proposed",
                              _png(figure)))
    rate_fields = {"optimal_usage_ratio_bps", "base_variable_borrow_rate_bps", "variable_rate_slope1_bps",
                   "variable_rate_slope2_bps"}
    if rate_fields & {c.parameter for c in report.changes}:
        from strategies.rates import RateCurve

        utilization = np.linspace(0, 1, 201)
        figure, axis = plt.subplots(figsize=(7, 3.5))
        for params, name, colour in ((before, "in force", "#b03a2e"), (after, "proposed", "#1e8449")):
            curve = RateCurve.from_params(params)
            axis.plot(utilization * 100, [curve.borrow_rate(u) * 100 for u in utilization], label=name, color=colour)
        axis.set_xlabel("utilization (%)")
        axis.set_ylabel("variable borrow rate (% a year)")
        axis.set_title(f"{report.asset} rate curve, in force against proposed")
        axis.grid(alpha=0.3)
        axis.legend()
        figures.append(Figure("rate_curve", "Rate curve, in force against proposed", _png(figure)))
    return tuple(figures)


# ------------------------------------------------------------------ rendering


def report_json(report: RiskReport) -> dict:
    """The report's figures as JSON-ready values (plots named, not embedded)."""
    value = asdict(report)
    value["figures"] = [{"name": f.name, "title": f.title, "png_bytes": len(f.png)} for f in report.figures]
    return value


def _pct(value) -> str:
    return f"{value:.2%}" if isinstance(value, (int, float)) else "n/a"


def _sections(report: RiskReport, text, code) -> list[tuple[str, list[str]]]:
    """The report as (heading, paragraphs/rows); `text` escapes data, `code` quotes a command.
    Shared by the markdown and HTML renderers so they say the same thing."""
    m, t, p, liq, mc, bt, att, veto = (report.method, report.tail, report.provenance, report.liquidations,
                                       report.monte_carlo, report.backtest, report.attestation, report.veto)
    decided = report.decided
    own = f" (the data's own time: {decided['anchor_data_utc']})" if decided["anchor_data_utc"] else ""
    summary = [f"Proposal #{report.proposal_id} for {text(report.asset)} is **{text(report.state)}** "
               f"({'fast path: applied at once' if report.path == 'fast' else 'timelock path'}). "
               f"Decided on the market as of block {decided['anchor_block']:,} at {decided['anchor_utc']}{own}.",
               f"Rationale (the strategy's words): {text(report.reason) or 'none given'}."]
    rows = ["| parameter | before | after | change |", "|---|---:|---:|---:|"]
    rows += [f"| {c.label} | {c.before_text} | {c.after_text} | {c.change_text} |" for c in report.changes]
    kept = [f"Kept for now: {text(param_label(name))}: {text(why)}." for name, why in sorted(report.dropped.items())]
    confidence = (f"LT at {m['lt_confidence']:.0%} expected shortfall over the liquidation horizon; LTV at "
                  f"{m['ltv_confidence']:.0%} VaR over {m['ltv_horizon_hours']} h; acceptable bad debt "
                  f"{m['max_bad_debt_share']:.0%} of a liquidated position's debt; horizon between "
                  f"{m['min_horizon_hours']} h and {m['max_horizon_hours']} h" if "lt_confidence" in m
                  else "the strategy config with this hash is not in this checkout: confidence and appetite "
                       "unknown here")
    method = [f"Strategy {text(m['strategy'])}, config {code(m['config_hash'][:16] + '...')}"
              + (f" ({code(m['config_file'])})" if m.get("config_file") else "") + ".",
              f"Risk appetite: {confidence}.",
              f"Volatility: {text(m.get('volatility_model'))} forecast {_pct(m.get('hourly_volatility'))} an hour; "
              f"the targets use {_pct(m.get('stressed_volatility'))} ({text(m.get('stressed_volatility_source'))}). "
              f"Liquidation horizon {m.get('horizon_hours', 'n/a')} h; DEX depth "
              f"{_usd(m.get('liquidity_depth_usd') or 0)} "
              f"({text(m.get('depth_source'))}); risk gate {text(m.get('risk_gate'))}"
              + ("; loosening held" if m.get("loosening_held") else "")
              + (" (the asset's history holds no whole stress window yet)" if m.get("stress_window_covered") is False else "")
              + ".",
              f"How the method works: {code('docs/methodology.md')} in the repository."]
    tail = [f"Value at risk of the price drop over {t.get('horizon_hours', '?')} h at {_pct(t.get('lt_confidence'))}: "
            f"**{_pct(t.get('var_drop'))}**; expected shortfall (the mean drop beyond it): "
            f"**{_pct(t.get('expected_shortfall_drop'))}**.",
            f"LTV buffer: {_pct(t.get('ltv_buffer_drop'))} drop at {_pct(t.get('ltv_confidence'))} over "
            f"{t.get('ltv_horizon_hours', '?')} h."]
    anchor = p["anchor"]
    provenance = [f"Chain {p['chain_id']}, steward {code(p['steward'])}, enclave nonce {p['enclave_nonce']}.",
                  f"Anchor block {anchor['block']:,}, hash {code(anchor['hash'])}, time {anchor['utc']}"
                  + (f" (data's own time {anchor['data_utc']})" if anchor["data_utc"] else "") + "."]
    for asset in p["assets"]:
        for segment in asset["prices"]:
            first = segment["first_data_utc"] or segment["first_utc"]
            span = f"{first} to {segment['last_data_utc'] or segment['last_utc']}"
            if segment["kind"] == "feed":
                rounds = segment.get("rounds")
                provenance.append(f"{text(asset['symbol'])} price feed {code(segment['feed'])}: rounds "
                                  f"{rounds[0]:,} to {rounds[1]:,} ({segment['observations']:,} rounds), {span}."
                                  if rounds else f"{text(asset['symbol'])} price feed {code(segment['feed'])}: "
                                  f"{segment['observations']:,} observations, {span}.")
            elif segment["kind"] == "file":
                provenance.append(f"{text(asset['symbol'])} earlier prices from a file, SHA-256 "
                                  f"{code(segment['sha256'])}: {segment['observations']:,} points, {span} (not on "
                                  "chain; named by the file's hash).")
            else:
                provenance.append(f"{text(asset['symbol'])} prices from {text(segment['source'])}: "
                                  f"{segment['observations']:,} points, {span}.")
        pair = asset["pair"]
        if pair["source"].startswith("pair:"):
            provenance.append(f"{text(asset['symbol'])} DEX pair {code(pair['source'].removeprefix('pair:'))} at "
                              "the anchor: "
                              f"{pair['asset_reserve_tokens']:,.2f} {text(asset['symbol'])} and "
                              f"{pair['quote_reserve_tokens']:,.2f} {text(pair['quote'])}.")
        else:
            provenance.append(f"{text(asset['symbol'])} has no DEX pair: the operator states "
                              f"{_usd(pair['fallback_depth_usd'])} of depth ({text(pair['source'])}).")
    provenance += [f"Positions: {p['positions']['accounts']:,} accounts from {text(p['positions']['source'])}, "
                   "read at the anchor block.",
                   f"Inputs hash (keccak256 of the {p['inputs_bytes']:,} canonical CBOR bytes): "
                   f"{code(p['inputs_hash'])}; published in transaction "
                   f"{code(p['inputs_publish_tx'] or 'not recorded')}."]
    strategy_count = liq["strategy_newly_liquidatable_positions"]
    strategy_count = "n/a" if strategy_count is None else strategy_count
    liquidation = [f"{liq['positions_with_debt']:,} positions hold {_usd(liq['debt_usd'])} of debt. With the proposed "
                   f"threshold, **{liq['newly_liquidatable_positions']:,} positions** holding "
                   f"**{_usd(liq['newly_liquidatable_debt_usd'])}** of debt become liquidatable at once "
                   f"(at the anchor price). Already liquidatable before the change: "
                   f"{liq['already_liquidatable_positions']:,} ({_usd(liq['already_liquidatable_debt_usd'])}).",
                   f"Lowest health factor: {liq['lowest_health_factor_now'] or 0:.3f} now, "
                   f"{liq['lowest_health_factor_proposed'] or 0:.3f} with the proposal. The strategy's own count: "
                   f"{strategy_count} positions, {_usd(liq['strategy_newly_liquidatable_debt_usd'] or 0)}."]
    if liq["unpriced_collateral"]:
        liquidation.append("Collateral the inputs do not price (left out, so health factors are understated): "
                           + ", ".join(text(s) for s in liq["unpriced_collateral"]) + ".")
    if "bad_debt_current_mean_usd" in mc:
        monte_carlo = ["| parameters | mean bad debt | 95th percentile |", "|---|---:|---:|",
                       f"| current | {_usd(mc['bad_debt_current_mean_usd'])} | "
                       f"{_usd(mc['bad_debt_current_var95_usd'])} |",
                       f"| proposed | {_usd(mc['bad_debt_proposed_mean_usd'])} | "
                       f"{_usd(mc['bad_debt_proposed_var95_usd'])} |",
                       f"Simulated over {mc.get('paths') or 0:,} seeded price paths of the liquidation horizon with "
                       f"the "
                       f"positions above, liquidations {mc.get('liquidation_delay_hours') or '?'} h after a position "
                       "crosses its threshold."]
    else:
        monte_carlo = ["The recommendation carries no Monte Carlo figures."]
    if bt.get("ran"):
        cur, new = bt["metrics"]["current"], bt["metrics"]["proposed"]
        span = (f"{bt['from_data_utc']} to {bt['to_data_utc']} (data's own time)" if bt["from_data_utc"]
                else f"{bt['from_utc']} to {bt['to_utc']}")
        backtest = [f"The last {bt['days']} days of stored {text(report.asset)} prices before the decision ({span}; "
                    f"{bt['observations']:,} stored prices on an hourly grid; price {_usd(bt['price_start_usd'])} to "
                    f"{_usd(bt['price_end_usd'])}, worst drawdown {bt['max_drawdown']:.1%}).",
                    f"Population: {bt['population']}.",
                    "| parameters | bad debt | liquidated debt | liquidations | borrower bonus losses | capital "
                    "efficiency |",
                    "|---|---:|---:|---:|---:|---:|",
                    *(f"| {name} | {_usd(r['bad_debt_usd'])} | {_usd(r['liquidated_debt_usd'])} | "
                      f"{int(r['liquidations']):,} | {_usd(r['borrower_bonus_losses_usd'])} | "
                      f"{r['capital_efficiency']:.1%} |"
                      for name, r in (("current", cur), ("proposed", new)))]
        if {"optimal_usage_ratio_bps", "base_variable_borrow_rate_bps", "variable_rate_slope1_bps",
                "variable_rate_slope2_bps", "reserve_factor_bps"} & {c.parameter for c in report.changes}:
            backtest.append("Rate parameters and the reserve factor of a collateral reserve do not enter this replay "
                            "(positions borrow a stablecoin at its own curve).")
    else:
        backtest = [f"No backtest: {text(bt.get('reason', 'no stored history'))}."]
    checks = [f"- {c['check']}: **{c['state']}**: {text(c['detail'])}" for c in att["checks"]]
    attestation = [f"**{'Verified' if att['verified'] else 'NOT verified'}.** The signature must recover to the key "
                   "the attestation document binds, and that key must be the enclave this decision names; the document "
                   "must chain to a trusted root with PCR0 equal to this checkout's measurement"
                   + (" (the development root was trusted for this report)." if att["dev_root_trusted"] else
                      " (only the AWS Nitro root is trusted unless `--trust-dev-root` is given)."),
                   *checks,
                   f"Enclave {code(att['enclave'])}, measurement (PCR0) {code(att['measurement'][:32] + '...')}."]
    if att["certificate_chain"]:
        attestation.append("Certificate chain: " + " <- ".join(text(s) for s in att["certificate_chain"]) + ".")
    verify = ["Anyone can re-run this decision with the open code and check it:",
              *(f"- {code(command)}" for command in report.verify_commands),
              "The first re-runs the decision from the stored inputs (inputs hash, byte-identical update, signature, "
              "attestation); the second also re-reads every input from the chain at the anchor block; the third needs "
              "no database at all (the update, its inputs and the attestation come from the transactions that carried "
              "them); the last prints your checkout's PCR0, to compare with the measurement above. What each check "
              f"means: {code('docs/reviewing.md')}."]
    veto_lines = [text(veto["text"])]
    if veto.get("eta_utc"):
        veto_lines.append(f"ETA (chain clock): {veto['eta_utc']}" + (f"; in the data's own time {veto['eta_data_utc']}"
                                                                      if veto.get("eta_data_utc") else "")
                          + (f"; {veto['time_left']}" if veto.get("time_left") else "") + ".")
    if veto["open"] or report.state in ("queued", "signed", "submitted"):
        veto_lines += [f"The guardian's call: {code(veto['call'])} on the steward {code(veto['steward'])}:",
                       f"- {code(veto['command'])}"]
    return [("Summary", summary), ("Before and after", rows + kept), ("Method", method),
            ("Value at risk and expected shortfall", tail),
            ("Where the inputs came from", provenance), ("Positions that become liquidatable", liquidation),
            ("Monte Carlo bad debt", monte_carlo), ("Backtest, current against proposed", backtest),
            ("Attestation", attestation), ("How to verify it", verify), ("How to veto it", veto_lines)]


def render_markdown(report: RiskReport, path: Path) -> list[Path]:
    """Writes the markdown and its plots (PNG files next to it); returns the PNG paths."""
    def code(value) -> str:
        return f"`{str(value).replace('`', '')}`"

    figure_for = {"Backtest, current against proposed": "backtest", "Monte Carlo bad debt": "monte_carlo",
                  "Positions that become liquidatable": "health_factors", "Before and after": "rate_curve"}
    by_name = {f.name: f for f in report.figures}
    written = []
    lines = [f"# Risk report: proposal #{report.proposal_id}, {markdown_literal(report.asset)}", ""]
    for heading, paragraphs in _sections(report, markdown_literal, code):
        lines += [f"## {heading}", ""]
        block = ""  # "table" or "list" while one is open: a blank line closes it
        for paragraph in paragraphs:
            kind = "table" if paragraph.startswith("|") else "list" if paragraph.startswith("- ") else ""
            if block and kind != block:
                lines.append("")
            lines.append(paragraph)
            if not kind:
                lines.append("")
            block = kind
        if block:
            lines.append("")
        figure = by_name.get(figure_for.get(heading, ""))
        if figure is not None:
            image = path.with_name(f"{path.stem}-{figure.name}.png")
            image.write_bytes(figure.png)
            written.append(image)
            lines += [f"![{figure.title}]({image.name})", ""]
    lines.append(f"Generated by `risk-agent report {report.proposal_id}` from {markdown_literal(report.database)} "
                 "(read-only).")
    path.write_text("\n".join(lines) + "\n")
    return written


def _block_kind(paragraph: str) -> str:
    """A section's lines come as tables ("| ..."), lists ("- ...") and paragraphs."""
    return "table" if paragraph.startswith("|") else "list" if paragraph.startswith("- ") else ""


def render_html(report: RiskReport) -> str:
    """One self-contained HTML page (plots embedded as base64 PNG); data escaped."""
    import re

    def code(value) -> str:
        return f"<code>{literal(value)}</code>"

    def literal(value) -> str:  # escaped, and the two markup forms below can never match data
        return html_literal(value).translate({ord("*"): "&#42;", ord("["): "&#91;", ord("]"): "&#93;"})

    def inline(paragraph: str) -> str:  # the shared sections use **bold** and [text](link) around escaped data
        paragraph = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", paragraph)
        return re.sub(r"\[([^\]<]+)\]\(([^)<\s]+)\)", r'<a href="\2">\1</a>', paragraph)

    figure_for = {"Backtest, current against proposed": "backtest", "Monte Carlo bad debt": "monte_carlo",
                  "Positions that become liquidatable": "health_factors", "Before and after": "rate_curve"}
    by_name = {f.name: f for f in report.figures}
    body = [f"<h1>Risk report: proposal #{report.proposal_id}, {literal(report.asset)}</h1>"]
    for heading, paragraphs in _sections(report, literal, code):
        body.append(f"<h2>{html_literal(heading)}</h2>")
        for kind, group in groupby(paragraphs, key=_block_kind):
            group = list(group)
            if kind == "table":
                cells = [[c.strip() for c in r.strip("|").split("|")] for r in group if not set(r) <= set("|-: ")]
                head, *rest = cells
                rows = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in rest)
                body.append("<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head)
                            + f"</tr></thead><tbody>{rows}</tbody></table>")
            elif kind == "list":
                body.append("<ul>" + "".join(f"<li>{inline(item[2:])}</li>" for item in group) + "</ul>")
            else:
                body.extend(f"<p>{inline(paragraph)}</p>" for paragraph in group)
        figure = by_name.get(figure_for.get(heading, ""))
        if figure is not None:
            encoded = base64.b64encode(figure.png).decode()
            body.append(f'<figure><img alt="{html_literal(figure.title)}" src="data:image/png;base64,{encoded}">'
                        f"<figcaption>{html_literal(figure.title)}</figcaption></figure>")
    body.append(f"<p class=note>Generated by <code>risk-agent report {report.proposal_id}</code> from "
                f"{html_literal(report.database)} (read-only).</p>")
    style = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222;"
             "line-height:1.45}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .6em}"
             "td:not(:first-child){text-align:right}code{background:#f3f3f3;padding:0 .2em;word-break:break-all}"
             "img{max-width:100%}figcaption{color:#555;font-size:.9em}.note{color:#666;font-size:.9em}")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>Risk report: proposal #{report.proposal_id}</title><style>{style}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
