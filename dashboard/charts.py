"""Charts that show their values: every point has a tooltip, bars carry their value as a
label, and lines label their points when there are few (their last point otherwise). Axes say
what and in which unit; time axes are the data's own time."""

from __future__ import annotations

import altair as alt
import pandas as pd

LABELLED_POINTS = 40
DRAWN_POINTS = 200  # more than this: the line alone (points would hide it)
PALETTE = ["#1f3b73", "#b03a2e", "#1e8449", "#b9770e", "#6c3483", "#117a65"]


def _time_axis(title: str) -> alt.X:
    return alt.X("time:T", title=title, axis=alt.Axis(format="%Y-%m-%d %H:%M", labelAngle=-30))


def lines(frame: pd.DataFrame, y: str, *, series: str | None = None, y_title: str, x_title: str, value_format: str,
          height: int = 280, x: str = "time") -> alt.Chart:
    """A line per `series` over `x` (a time), points with tooltips, values written on the
    points when few (else on each line's last point)."""
    encoding_x = _time_axis(x_title) if x == "time" else alt.X(f"{x}:T", title=x_title)
    colour = alt.Color(f"{series}:N", scale=alt.Scale(range=PALETTE), title=None) if series else alt.value(PALETTE[0])
    tooltip = [alt.Tooltip(f"{x}:T", format="%Y-%m-%d %H:%M", title=x_title),
               alt.Tooltip(f"{y}:Q", format=value_format)]
    if series:
        tooltip.insert(0, alt.Tooltip(f"{series}:N"))
    base = alt.Chart(frame).encode(encoding_x, alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
                                   color=colour)
    few = frame.shape[0] <= DRAWN_POINTS
    layers = [base.mark_line(interpolate="step-after" if frame.shape[0] < LABELLED_POINTS else "linear",
                             strokeWidth=1.5 if few else 1).encode(tooltip=tooltip)]
    if few:
        layers.append(base.mark_point(filled=True, size=30).encode(tooltip=tooltip))
    labelled = frame if len(frame) <= LABELLED_POINTS else frame.groupby(series).tail(1) if series else frame.tail(1)
    layers.append(alt.Chart(labelled).mark_text(dy=-9, fontSize=11).encode(
        encoding_x, alt.Y(f"{y}:Q"), color=colour, text=alt.Text(f"{y}:Q", format=value_format)))
    return alt.layer(*layers).properties(height=height)


def bars(frame: pd.DataFrame, x: str, y: str, *, group: str | None = None, y_title: str, value_format: str,
         x_title: str | None = None, height: int = 260, x_type: str = "N", hide_zero: bool = False,
         y_format: str | None = None) -> alt.Chart:
    """Bars with their value written on them (grouped side by side by `group`)."""
    encodings = [alt.X(f"{x}:{x_type}", title=x_title or x, axis=alt.Axis(labelAngle=0)),
                 alt.Y(f"{y}:Q", title=y_title, axis=alt.Axis(format=y_format) if y_format else alt.Axis(),
                       scale=alt.Scale(domainMin=0))]
    extra = {}
    if group:
        extra = {"color": alt.Color(f"{group}:N", scale=alt.Scale(range=PALETTE[1:]), title=None),
                 "xOffset": alt.XOffset(f"{group}:N")}
    tooltip = [alt.Tooltip(f"{x}:{x_type}"), alt.Tooltip(f"{y}:Q", format=value_format)]
    if group:
        tooltip.insert(0, alt.Tooltip(f"{group}:N"))
    base = alt.Chart(frame).encode(*encodings, **extra)
    labels = base.mark_text(dy=-7, fontSize=11).encode(text=alt.Text(f"{y}:Q", format=value_format))
    if hide_zero:
        labels = labels.transform_filter(f"datum['{y}'] != 0")
    return alt.layer(base.mark_bar().encode(tooltip=tooltip), labels).properties(height=height)


def price_with_parameters(prices: pd.DataFrame, parameters: pd.DataFrame, symbol: str, x_title: str) -> alt.Chart:
    """The price (left axis) with LTV and LT in force (right axis, %), each change labelled."""
    price = alt.Chart(prices).mark_line(color=PALETTE[0], strokeWidth=1).encode(
        _time_axis(x_title), alt.Y("price_usd:Q", title=f"{symbol} price (USD)", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("price_usd:Q", format="$,.2f")])
    if parameters.empty:
        return price.properties(height=320)
    end = prices["time"].max() if not prices.empty else parameters["time"].max()
    extended = pd.concat([parameters, parameters.tail(1).assign(time=max(end, parameters["time"].max()))])
    long = extended.melt(id_vars="time", value_vars=["LTV %", "LT %"], var_name="parameter", value_name="percent")
    colour = alt.Color("parameter:N", scale=alt.Scale(domain=["LTV %", "LT %"], range=[PALETTE[2], PALETTE[1]]),
                       title=None)
    steps = alt.Chart(long).mark_line(interpolate="step-after", strokeWidth=2).encode(
        _time_axis(x_title), alt.Y("percent:Q", title="LTV and LT in force (%)", scale=alt.Scale(zero=False)), colour)
    changes = parameters.melt(id_vars="time", value_vars=["LTV %", "LT %"], var_name="parameter", value_name="percent")
    labels = alt.Chart(changes).mark_text(dy=-8, fontSize=11).encode(
        _time_axis(x_title), alt.Y("percent:Q"), colour, text=alt.Text("percent:Q", format=".2f"),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "parameter:N", alt.Tooltip("percent:Q", format=".2f")])
    return alt.layer(price, alt.layer(steps, labels)).resolve_scale(y="independent").properties(height=340)


def rate_curves(curves: pd.DataFrame, marks: pd.DataFrame) -> alt.Chart:
    """Borrow rate against utilization for each curve; the kink and the rate there labelled."""
    colour = alt.Color("curve:N", scale=alt.Scale(range=[PALETTE[1], PALETTE[2]]), title=None,
                       legend=alt.Legend(orient="bottom"))
    line = alt.Chart(curves).mark_line().encode(
        alt.X("utilization %:Q", title="utilization (%)"),
        alt.Y("borrow rate %:Q", title="variable borrow rate (% a year)"),
        colour, tooltip=["curve:N", alt.Tooltip("utilization %:Q", format=".0f"),
                         alt.Tooltip("borrow rate %:Q", format=".2f")])
    points = alt.Chart(marks).mark_point(filled=True, size=50).encode(
        alt.X("utilization %:Q"), alt.Y("borrow rate %:Q"), colour)
    text = alt.Chart(marks).mark_text(dx=6, dy=-8, align="left", fontSize=11).encode(
        alt.X("utilization %:Q"), alt.Y("borrow rate %:Q"), colour, text="label:N")
    return alt.layer(line, points, text).properties(height=300)
