"""identify-advisors: register a CSV of referrals as advisors in the pool ('identified')."""

from __future__ import annotations

from prefect import flow

from ppflow_flows import tasks
from ppflow_flows.runtime import publish, tag_run


@flow(name="identify-advisors", flow_run_name="identify/{csv_name}")
def identify_advisors(
    csv_path: str, csv_name: str = "referrals", skip_invalid: bool = False
) -> list[str]:
    """Referrals come in a file (one row is one referral), never as parameters: a name or
    an e-mail address must not reach Prefect."""
    tag_run("stage:identify")
    report = tasks.register_referrals(csv_path, skip_invalid)
    lines = [f"- rows read: {report.rows}", f"- advisors identified: {len(report.imported)}"]
    lines += [f"  - `{code}`" for code in report.imported]
    if report.bad_lines:
        lines.append(
            f"- rows refused at lines {', '.join(map(str, report.bad_lines))}; "
            "`ppflow advisor import FILE` shows why"
            + ("" if skip_invalid else " (nothing was imported)")
        )
    publish(f"identify-{csv_name}", f"Referrals from {csv_name}", lines)
    return list(report.imported)
