"""CNN against DNN (or any runs) from their JSON records, each with its lineage."""

from ferkit.record import ancestors


def with_lineage(record, folder):
    """record with the history of the runs it started from (--init-from) before its own,
    epochs and wall time accumulated, as if one run; `lineage` names them, oldest first.
    Parents are looked up beside it in folder; the walk stops at one whose JSON is gone."""
    # A missing parent appears only as the child's init summary, which has no history.
    chain = [r for r in ancestors(record, folder) if "history" in r] + [record]
    history, epochs, seconds = [], 0, 0.0
    for run in chain:
        for h in run["history"]:
            history.append(
                h | {"epoch": epochs + h["epoch"], "wall_seconds": seconds + h["wall_seconds"]}
            )
        epochs += len(run["history"])
        seconds += run["history"][-1]["wall_seconds"] if run["history"] else 0.0
    return record | {
        "history": history,
        "lineage": [r["name"] for r in chain],
        "lineage_seconds": sum(r.get("training_seconds") or 0 for r in chain),
    }


def compare_rows(records):
    """One row per run: size, best validation accuracy, how soon it got there, speed."""
    rows = []
    for r in records:
        accs = [h["val_accuracy"] for h in r["history"]]
        best = max(accs)
        near = next(i for i, a in enumerate(accs) if a >= best - 0.01)
        rows.append(
            {
                "run": r["name"],
                "params": r["params"],
                "best_val_accuracy": best,
                "best_epoch": accs.index(best) + 1,
                "epochs": len(accs),
                "lineage": r.get("lineage", [r["name"]]),
                "training_minutes": r.get("lineage_seconds", r.get("training_seconds") or 0) / 60,
                "epoch_within_1pt": near + 1,
                "minutes_within_1pt": r["history"][near]["wall_seconds"] / 60,
                "seconds_per_epoch": r["seconds_per_epoch"],
                "public_accuracy": r.get("public_accuracy"),
            }
        )
    return rows


def format_rows(rows):
    """The rows as an aligned text table."""
    head = "run        params  best val  epoch  within 1pt (epoch, min)  s/epoch  public"
    lines = [head]
    for r in rows:
        public = "-" if r["public_accuracy"] is None else f"{r['public_accuracy']:.4f}"
        lines.append(
            f"{r['run']:<8} {r['params']:>8,}  {r['best_val_accuracy']:.4f}  {r['best_epoch']:>5}"
            f"  {r['epoch_within_1pt']:>10}, {r['minutes_within_1pt']:>6.1f}"
            f"           {r['seconds_per_epoch']:>6}  {public}"
        )
    return "\n".join(lines)
