"""One PNG per period: how much of each allowance was used, where the 80 % and 100 % marks are,
and what the overage costs. Bars are drawn as a share of the allowance so email (thousands),
SMS (hundreds) and contacts share one axis; the labels carry the absolute numbers."""

from __future__ import annotations

import io
from decimal import Decimal

from beacon.finance.report import UsageLine, UsageReport

GREEN, AMBER, RED, GREY = "#2e7d32", "#f9a825", "#c62828", "#e0e0e0"
LABELS = {"email": "Emails", "sms": "SMS", "whatsapp": "WhatsApp", "contacts": "Contacts (peak)", "campaigns": "Campaigns"}


def _share(line: UsageLine) -> float:
    if line.included > 0:
        return 100.0 * line.used / line.included
    return 0.0 if line.used == 0 else 150.0  # nothing included: any use is over the allowance


def _colour(line: UsageLine) -> str:
    return RED if line.used > line.included else AMBER if line.is_at_80_pct else GREEN


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def render_usage_chart(report: UsageReport) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, safe in threads of the API and Dagster
    import matplotlib.pyplot as plt

    lines = list(report.usage)
    shares = [_share(line) for line in lines]
    top = max([120.0, *(s * 1.15 for s in shares)])
    fig, ax = plt.subplots(figsize=(9, 1.1 * max(len(lines), 1) + 1.6), dpi=110)
    try:
        y = list(range(len(lines)))[::-1]
        ax.barh(y, [100.0 if line.included else 0.0 for line in lines], color=GREY, height=0.6)
        ax.barh(y, shares, color=[_colour(line) for line in lines], height=0.36)
        ax.axvline(80, color=AMBER, linestyle="--", linewidth=1)
        ax.axvline(100, color=RED, linestyle="--", linewidth=1)
        ax.text(80, 1.01, "80 %", color=AMBER, ha="center", fontsize=8, transform=ax.get_xaxis_transform())
        ax.text(100, 1.01, "100 %", color=RED, ha="center", fontsize=8, transform=ax.get_xaxis_transform())
        for row, line, share in zip(y, lines, shares, strict=True):
            label = f"{line.used:,} of {line.included:,}" if line.included else f"{line.used:,} (none included)"
            if line.overage_units:
                label += f"  +{line.overage_units:,} over"
                if line.overage_amount:
                    label += f" = {_money(line.overage_amount, report.currency)}"
            ax.text(min(share, top) + top * 0.01, row, label, va="center", fontsize=9,
                    fontweight="bold" if line.overage_units else "normal")
        ax.set_yticks(y, [LABELS.get(line.metric, line.metric) for line in lines])
        ax.set_xlim(0, top * 1.45)
        ax.set_xlabel("share of the plan's allowance (%)")
        state = "closed" if report.is_closed else "draft (period open or in grace)"
        ax.set_title(
            f"Usage {report.period_label} · organization {report.organization_id} · plan {report.plan_code} · {state}",
            fontsize=11, loc="left", pad=16,
        )
        fig.text(0.01, 0.01, f"Invoice total {_money(report.invoice_total, report.currency)}"
                 f"  (overage {_money(report.overage_total, report.currency)})", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=GREY, label="included in plan"), Patch(color=GREEN, label="used, under 80 %"),
                           Patch(color=AMBER, label="used, 80-100 %"), Patch(color=RED, label="over the allowance")],
                  loc="lower right", fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
