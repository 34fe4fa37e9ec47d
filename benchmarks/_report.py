"""Aggregation (medians, same-round ratios), the Markdown/JSON report, targets and the chart."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

from ._cases import Case, Row, Sizes

ENC_BASE = "baseline: file read(64 KiB)"
DEC_BASE = "baseline: bytes.find(delimiter)"
FLOOD_FIND = f"{DEC_BASE} [flood-1b]"


# ---------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": mem,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }


# ---------------------------------------------------------------- aggregation


def _rate(case: Case, seconds: float) -> float:
    r = case.work / seconds
    return r / 1e6 if case.unit == "MB/s" else r


def _paired_ratio(case: Case, a: Row, b: Row) -> float | None:
    """Median over rounds of rate(a)/rate(b), pairing runs of the same round."""
    ratios = [
        rb.seconds / ra.seconds
        for ra, rb in zip(a.runs, b.runs, strict=False)
        if ra.status == "ok" and rb.status == "ok" and ra.seconds > 0
    ]
    return statistics.median(ratios) if ratios else None


def _row_summary(case: Case, row: Row) -> dict[str, Any]:
    ok = [r for r in row.runs if r.status == "ok"]
    rates = [_rate(case, r.seconds) for r in ok]
    others = [r for r in row.runs if r.status != "ok"]
    status = "ok" if ok else (others[0].status if others else "missing")
    reason = next((r.reason for r in others if r.reason), "")
    out: dict[str, Any] = {
        "lib": row.lib,
        "variant": row.variant,
        "role": row.role,
        "status": status,
        "reason": reason or (row.note if status == "skipped" else ""),
        "rounds_ok": len(ok),
        "rounds_timeout": sum(r.status == "timeout" for r in row.runs),
        "seconds": [r.seconds for r in ok],
        "median": statistics.median(rates) if rates else None,
        "min": min(rates) if rates else None,
        "max": max(rates) if rates else None,
        "rss_peak_mib": max((r.rss_peak_mib for r in row.runs if r.rss_peak_mib), default=None),
        "rss_delta_mib": max((r.rss_peak_mib - r.rss_before_mib for r in ok), default=None),
        "baseline": row.baseline,
        "ratio_baseline": None,
        "best_peer": None,
        "ratio_best_peer": None,
    }
    return out


def build(
    results: list[tuple[Case, list[Row]]],
    sizes: Sizes,
    rounds: int,
    elapsed: float,
    *,
    jobs: int = 1,
    load: tuple[float, float] | None = None,
) -> dict[str, Any]:
    cases = []
    for case, rows in results:
        summaries = [_row_summary(case, row) for row in rows]
        by_key = {(row.lib, row.variant): row for row in rows}
        for row, s in zip(rows, summaries, strict=True):
            if s["status"] != "ok":
                continue
            base = by_key.get((row.baseline, row.variant)) if row.baseline else None
            if base is not None:
                s["ratio_baseline"] = _paired_ratio(case, row, base)
            peers = [
                p
                for p in summaries
                if p["role"] == "peer" and p["variant"] == row.variant and p["median"]
            ]
            if row.role in ("mimewire", "ringfax"):
                s["vs_peers"] = {
                    p["lib"]: _paired_ratio(case, row, by_key[(p["lib"], row.variant)])
                    for p in peers
                }
            if peers:
                best = max(peers, key=lambda p: p["median"])
                s["best_peer"] = best["lib"]
                s["ratio_best_peer"] = _paired_ratio(case, row, by_key[(best["lib"], row.variant)])
        entry: dict[str, Any] = {
            "id": case.id,
            "title": case.title,
            "unit": case.unit,
            "work": case.work,
            "time_limit_s": case.time_limit,
            "variants": list(case.variants),
            "rows": summaries,
            "notes": case.notes,
            "rule": case.rule,
        }
        if "benign" in case.variants and len(case.variants) > 1:
            entry["slowdown"] = _slowdown(case, rows)
        cases.append(entry)
    report: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": sizes.mode,
        "rounds": rounds,
        "elapsed_s": round(elapsed, 1),
        "jobs": jobs,
        "load_average": list(load) if load else None,
        "machine": machine(),
        "cases": cases,
    }
    report["targets"] = targets(report)
    return report


def _slowdown(case: Case, rows: list[Row]) -> dict[str, dict[str, Any]]:
    """Per library and hostile variant: its time / the benign time (median of same-round
    pairs). Keys are ``lib`` for the first hostile variant, ``lib [variant]`` for others."""
    out: dict[str, dict[str, Any]] = {}
    libs = [r.lib for r in rows if r.variant == "benign"]
    by_key = {(r.lib, r.variant): r for r in rows}
    hostile = [v for v in case.variants if v != "benign"]
    for variant in hostile:
        for lib in libs:
            key = lib if variant == hostile[0] else f"{lib} [{variant}]"
            benign, adv = by_key[(lib, "benign")], by_key[(lib, variant)]
            pairs = [
                a.seconds / b.seconds
                for a, b in zip(adv.runs, benign.runs, strict=False)
                if a.status == "ok" and b.status == "ok" and b.seconds > 0
            ]
            b_ok = [r.seconds for r in benign.runs if r.status == "ok"]
            timeouts = [r for r in adv.runs if r.status == "timeout"]
            if pairs:
                out[key] = {"ratio": statistics.median(pairs), "over_limit": False}
            elif timeouts and b_ok:
                out[key] = {
                    "ratio": case.time_limit / statistics.median(b_ok),
                    "over_limit": True,
                }
            else:
                status = next((r.status for r in adv.runs + benign.runs if r.status != "ok"), "n/a")
                out[key] = {"ratio": None, "over_limit": False, "status": status}
    return out


# ---------------------------------------------------------------- targets


def _case(report: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    found = [c for c in report["cases"] if c["id"].startswith(prefix)]
    return max(found, key=lambda c: c["work"]) if found else None


def _row(case: dict[str, Any] | None, lib: str, variant: str = "") -> dict[str, Any] | None:
    if case is None:
        return None
    for r in case["rows"]:
        if r["lib"] == lib and r["variant"] == variant:
            return r
    return None


def _ratio_target(
    name: str, value: float | None, target: float, detail: str, higher: bool = True
) -> dict[str, Any]:
    if value is None:
        return {"target": name, "verdict": "N/A", "detail": detail or "not measured"}
    met = value >= target if higher else value <= target
    if higher:
        by = f"{(value / target - 1) * 100:+.0f}% vs target"
    else:
        by = (
            f"{(target / value - 1) * 100:+.0f}% headroom"
            if met
            else (f"{(value / target - 1) * 100:.0f}% over")
        )
    return {
        "target": name,
        "verdict": "MET" if met else "MISSED",
        "value": value,
        "goal": target,
        "detail": f"{value:.2f}× (goal {'≥' if higher else '≤'} {target:g}×, {by}); {detail}",
    }


def _others(case: dict[str, Any] | None, role: str, attr: str) -> str:
    if case is None:
        return ""
    parts = []
    for r in case["rows"]:
        if r["role"] == role and r[attr] is not None:
            parts.append(f"{r['lib']} {r[attr]:.2f}×")
    return ", ".join(parts)


def _peer_list(case: dict[str, Any] | None, lib: str) -> str:
    """'vs peer 1.23×, ...' (same-round paired ratios) for a mimewire row."""
    me = _row(case, lib)
    if me is None or not me.get("vs_peers"):
        return ""
    return "vs " + ", ".join(
        f"{peer} {ratio:.2f}×" for peer, ratio in me["vs_peers"].items() if ratio is not None
    )


def _vs(case: dict[str, Any] | None, lib: str, peer: str) -> float | None:
    me = _row(case, lib)
    if me is None:
        return None
    value: float | None = (me.get("vs_peers") or {}).get(peer)
    return value


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    enc = _case(report, "encode-large-")
    dec = _case(report, "decode-large-")
    size = enc["id"].rsplit("-", 1)[1] if enc else "?"
    dsize = dec["id"].rsplit("-", 1)[1] if dec else "?"

    r = _row(enc, "mimewire iter")
    out.append(
        _ratio_target(
            f"Encode {size}: mimewire iter ≥ 0.95× plain 64 KiB read",
            r and r["ratio_baseline"],
            0.95,
            "other mimewire modes: " + _others(enc, "mimewire", "ratio_baseline"),
        )
    )
    r1m = _row(enc, "mimewire iter (1 MiB chunks)")
    out.append(
        _ratio_target(
            f"Encode {size}: mimewire iter at 1 MiB chunks ≥ 0.95× plain 1 MiB read",
            r1m and r1m["ratio_baseline"],
            0.95,
            "chunk_size=1 MiB against a raw 1 MiB read of the same cached file",
        )
    )
    out.append(
        _ratio_target(
            f"Encode {size}: mimewire iter faster than every peer",
            r and r["ratio_best_peer"],
            1.0,
            f"best peer {r and r['best_peer']}; " + _peer_list(enc, "mimewire iter"),
        )
    )
    r = _row(dec, "mimewire Decoder")
    out.append(
        _ratio_target(
            f"Decode {dsize}: mimewire Decoder ≥ 0.9× bytes.find scan",
            r and r["ratio_baseline"],
            0.9,
            "other mimewire modes: " + _others(dec, "mimewire", "ratio_baseline"),
        )
    )
    out.append(
        _ratio_target(
            f"Decode {dsize}: mimewire Decoder faster than every peer",
            r and r["ratio_best_peer"],
            1.0,
            f"best peer {r and r['best_peer']}; " + _peer_list(dec, "mimewire Decoder"),
        )
    )
    for lib in ("mimewire reader.read(64 KiB)", "mimewire reader.readinto"):
        rr = _row(enc, lib)
        out.append(
            _ratio_target(
                f"Encode {size}: {lib} ≥ 0.95× plain 64 KiB read",
                rr and rr["ratio_baseline"],
                0.95,
                "what requests, urllib3 and http.client pull through (readinto into a "
                "page-aligned 64 KiB buffer)",
            )
        )
    em = _case(report, "encode-many")
    out.append(
        _ratio_target(
            "Many small parts: mimewire encode (parts built in the timing) ≥ 4× httpx",
            _vs(em, "mimewire iter", "httpx MultipartStream"),
            4.0,
            _peer_list(em, "mimewire iter"),
        )
    )
    dm = _case(report, "decode-many")
    out.append(
        _ratio_target(
            "Many small parts: mimewire Decoder ≥ 1.5× multipart",
            _vs(dm, "mimewire Decoder", "multipart PushMultipartParser"),
            1.5,
            _peer_list(dm, "mimewire Decoder"),
        )
    )
    adv = _case(report, "decode-adversarial-")
    sd = (adv or {}).get("slowdown", {})
    mine = sd.get("mimewire Decoder", {})
    peers = ", ".join(
        f"{k} {'>' if v.get('over_limit') else ''}{v['ratio']:.1f}×"
        for k, v in sd.items()
        if v.get("ratio") is not None
        and not k.startswith(("mimewire", "baseline"))
        and not k.endswith("]")
    )
    out.append(
        _ratio_target(
            "Adversarial body: mimewire Decoder ≤ 2× its benign time",
            mine.get("ratio"),
            2.0,
            "parse(): "
            + (
                f"{sd['mimewire parse()']['ratio']:.2f}×"
                if sd.get("mimewire parse()", {}).get("ratio")
                else "n/a"
            )
            + f"; peers: {peers}",
            higher=False,
        )
    )
    flood = sd.get("mimewire Decoder [flood-1b]", {})
    out.append(
        _ratio_target(
            "CRLF--b flood (1-byte near-delimiters): mimewire Decoder ≤ 2× its benign time",
            flood.get("ratio"),
            2.0,
            "bare find: "
            + (f"{sd[FLOOD_FIND]['ratio']:.2f}×" if sd.get(FLOOD_FIND, {}).get("ratio") else "n/a"),
            higher=False,
        )
    )
    for label, prefix, lib in (
        ("encode", "encode-large-", "mimewire iter"),
        ("decode", "decode-large-", "mimewire Decoder"),
    ):
        out.append(_memory_target(report, label, prefix, lib))
    return out


def _memory_target(report: dict[str, Any], label: str, prefix: str, lib: str) -> dict[str, Any]:
    cases = sorted(
        (c for c in report["cases"] if c["id"].startswith(prefix)), key=lambda c: c["work"]
    )
    pts = []
    for c in cases:
        r = _row(c, lib)
        if r and r["rss_delta_mib"] is not None:
            pts.append((c["id"].rsplit("-", 1)[1], r["rss_delta_mib"], r["rss_peak_mib"]))
    name = f"Memory flat ({label}, {lib}): peak RSS grows < 16 MiB whatever the size"
    if not pts:
        return {"target": name, "verdict": "N/A", "detail": "not measured"}
    worst = max(p[1] for p in pts)
    spread = max(p[2] for p in pts) - min(p[2] for p in pts)
    met = worst < 16 and spread < 16
    detail = "; ".join(f"{s}: +{d:.1f} MiB during the run (peak {pk:.0f} MiB)" for s, d, pk in pts)
    if len(pts) > 1:
        detail += f"; peak differs by {spread:.1f} MiB across sizes"
    return {"target": name, "verdict": "MET" if met else "MISSED", "value": worst, "detail": detail}


# ---------------------------------------------------------------- markdown


def _num(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "parts/s" or v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def _secs(v: float) -> str:
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def _mib(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# mimewire / ringfax benchmarks",
        "",
        f"**Machine:** {m['cores']} cores, {m['cpu']}, {m['memory_gib']} GiB RAM, "
        f"{m['implementation']} {m['python']}, {m['platform']}  ",
        f"**Run:** {report['date']}, mode `{report['mode']}`, interleaved rounds: "
        f"{report['rounds']}, {report['elapsed_s']:.0f} s"
        + (
            f", 1-min load average {report['load_average'][0]:.1f} at the start and "
            f"{report['load_average'][1]:.1f} at the end (above the core count means the "
            "machine was shared: trust the ratios more than the absolute numbers)."
            if report.get("load_average")
            else "."
        )
        + (
            f" **{report['jobs']} children ran at once: a smoke test, not a measurement.**"
            if report.get("jobs", 1) > 1
            else ""
        ),
        "",
        "Every figure comes from its own child process (peak RSS is that process's "
        "`ru_maxrss`: interpreter + imports + data + the run; Δ is the growth during the "
        "measured run). Throughput: median [min–max] over rounds (MB = 10^6 bytes; "
        "for decoding and encoding, payload bytes). Ratios are medians of same-round "
        "pairs (the CPU speed on these machines flips ~1.7×, so a ratio within one round "
        "is worth more than any absolute number). × baseline: against the physical floor "
        "named in the case; × best peer: against the fastest non-mimewire library in the "
        "same case.",
        "",
        "## Targets",
        "",
        "| target | verdict | detail |",
        "|---|---|---|",
    ]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | **{t['verdict']}** | {t['detail']} |")
    for c in report["cases"]:
        lines += ["", f"## {c['title']}", "", f"`{c['id']}`", ""]
        unit = c["unit"]
        lines.append(
            f"| library | {unit} median [min–max] | time s | × baseline | × best peer | "
            "peak RSS MiB | Δ RSS MiB |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in c["rows"]:
            name = r["lib"] + (f" [{r['variant']}]" if r["variant"] else "")
            if r["role"] in ("mimewire", "ringfax"):
                name = f"**{name}**"
            if r["status"] != "ok":
                if r["status"] == "timeout":
                    what = f"> {c['time_limit_s']:g} s limit"
                else:
                    what = f"{r['status']}: {r['reason']}".replace("|", "/")
                lines.append(f"| {name} | {what} | | | | {_mib(r['rss_peak_mib'])} | |")
                continue
            rate = f"{_num(r['median'], unit)} [{_num(r['min'], unit)}–{_num(r['max'], unit)}]"
            if r["rounds_timeout"]:
                runs = r["rounds_ok"] + r["rounds_timeout"]
                rate += f" ({r['rounds_timeout']} of {runs} rounds > limit)"
            base = (
                "baseline"
                if r["role"] == "baseline" and not r["baseline"]
                else _x(r["ratio_baseline"])
            )
            secs = statistics.median(r["seconds"])
            lines.append(
                f"| {name} | {rate} | {_secs(secs)} | {base} | {_x(r['ratio_best_peer'])} | "
                f"{_mib(r['rss_peak_mib'])} | {_mib(r['rss_delta_mib'])} |"
            )
        bases = sorted({r["baseline"] for r in c["rows"] if r["baseline"]})
        best = sorted({r["best_peer"] for r in c["rows"] if r["best_peer"]})
        lines += [
            "",
            f"**Rule:** {c.get('rule') or 'not stated'}",
            "",
            f"Baseline: {', '.join(bases) or '—'}. Best peer: {', '.join(best) or '—'}."
            + (f" {c['notes']}" if c.get("notes") else ""),
        ]
        if "slowdown" in c:
            lines += [
                "",
                "Hostile / benign time, per library (same-round pairs; `[flood-1b]`: the "
                "CRLF--b flood, unmarked: the adversarial body):",
                "",
                "| library | slowdown |",
                "|---|---:|",
            ]
            for lib, v in c["slowdown"].items():
                if v.get("ratio") is None:
                    txt = v.get("status", "n/a")
                else:
                    txt = f"{'> ' if v['over_limit'] else ''}{v['ratio']:.2f}×"
                lines.append(f"| {lib} | {txt} |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- chart


def chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = report["cases"]
    ncols = 2 if len(cases) > 1 else 1
    nrows = (len(cases) + ncols - 1) // ncols
    heights = []
    for i in range(nrows):
        heights.append(max(len(c["rows"]) for c in cases[i * ncols : (i + 1) * ncols]))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(9 * ncols, sum(0.36 * h + 1.4 for h in heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    colors = {"mimewire": "#d62728", "ringfax": "#d62728", "peer": "#1f77b4", "baseline": "#999999"}
    for ax, c in zip(axes.flat, cases, strict=False):
        # 'iterate chunks' (the bare loop, ~1e6 MB/s) would squash every other bar
        shown = [r for r in c["rows"] if r["lib"] != "baseline: iterate chunks"]
        rows = [r for r in shown if r["median"]]
        missing = [r for r in shown if not r["median"]]
        labels = [
            r["lib"]
            + (f" [{r['variant']}]" if r["variant"] else "")
            + (f" · {r['rss_peak_mib']:,.0f} MiB" if r["rss_peak_mib"] else "")
            for r in rows
        ]
        labels += [
            r["lib"] + (f" [{r['variant']}]" if r["variant"] else "") + f" ({r['status']})"
            for r in missing
        ]
        med = [r["median"] for r in rows]
        lo = [r["median"] - r["min"] for r in rows]
        hi = [r["max"] - r["median"] for r in rows]
        y = list(range(len(labels)))
        bars = ax.barh(
            y[: len(rows)],
            med,
            xerr=[lo, hi],
            color=[colors.get(r["role"], "#1f77b4") for r in rows],
            hatch=None,
            capsize=2,
        )
        for bar, r in zip(bars, rows, strict=True):
            if r["variant"] == "adversarial":
                bar.set_hatch("//")
                bar.set_alpha(0.7)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        if med and min(med) > 0 and max(med) / min(med) > 20:
            ax.set_xscale("log")
        for yi, r in zip(y, rows, strict=False):
            ax.text(r["max"], yi, f" {_num(r['median'], c['unit'])}", va="center", fontsize=7)
        ax.set_xlabel(
            c["unit"] + " (median, min–max; higher is better) · label: peak RSS", fontsize=8
        )
        ax.set_title(c["title"], fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.margins(x=0.15)
    for ax in list(axes.flat)[len(cases) :]:
        ax.axis("off")
    m = report["machine"]
    fig.suptitle(
        f"mimewire benchmarks — {m['cores']} cores, {m['cpu']}, Python {m['python']}, "
        f"{report['date']}, mode {report['mode']}  (red: mimewire/ringfax, blue: peers, "
        "grey: baselines)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=90)
    plt.close(fig)
