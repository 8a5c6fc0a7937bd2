# %% [markdown]
# # Relapse-free survival by MRD status at a landmark — the demo cohort
#
# A worked example of the notebook API (`docs/python-api.md`), in percent format: open it in
# Jupyter (jupytext) or VS Code, or run it as a script. It reads the database named by
# `TREPHINE_DATABASE_URL` (after `scripts/run-demo`: the demo's `trephine.db`) as a researcher:
# pseudonymous ids, days from diagnosis. A database with accounts is read as one of them, like
# every `trephine` command: here `TREPHINE_USER`, or the demo's researcher account
# `demo-researcher` (at a site: your own account, or `TREPHINE_TOKEN` set to one of your API
# tokens). Every frame is audited as that account, with its role and client `notebook`.
# `tests/test_notebook_example.py` runs it on a fresh demo database and checks it against
# `trephine cohort analyse`.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import trephine

# The researcher's view pseudonymises with the database's export key (its own random secret,
# or TREPHINE_EXPORT_KEY when set: docs/research.md, "The export key"); nothing to set here.
LANDMARK_DAY, WINDOW = 60, 30

db = trephine.connect(
    os.environ.get("TREPHINE_DATABASE_URL", "sqlite:///trephine.db"),
    user=os.environ.get("TREPHINE_USER", "demo-researcher"),
)
print(db)

# %% [markdown]
# Define the cohort (all AML; saving it again with the same criteria adds nothing) and take one
# row per patient: the MRD status at day 60 ± 30 after diagnosis (`group`), the days from the
# landmark to relapse or the last record (`time`) and whether it ended in relapse (`event`).

# %%
db.define("aml-demo", diseases=["AML"])
members = db.cohort("aml-demo")
rows = db.landmark("aml-demo", day=LANDMARK_DAY, window=WINDOW)
print(f"{len(members)} patients in the cohort, {len(rows)} evaluable at the landmark")
print(rows.groupby("group").agg(n=("event", "size"), relapses=("event", "sum")))

# %% [markdown]
# Kaplan–Meier per MRD group (lifelines, through `trephine.kaplan_meier`) and the log-rank test.

# %%
curves = {
    group: trephine.kaplan_meier(g["time"].tolist(), g["event"].tolist(), at=[180, 365])
    for group, g in rows.groupby("group")
}
for group, km in curves.items():
    median = "not reached" if km.median is None else f"{km.median:.0f} days"
    print(
        f"MRD {group}: n {km.n}, relapses {km.events}, median {median}, "
        f"RFS at 1 year {km.survival_at[365]:.2f}"
    )
if len(curves) > 1:
    test = trephine.logrank(rows["time"].tolist(), rows["event"].tolist(), rows["group"].tolist())
    print(f"log-rank chi-square {test.statistic:.2f} on {test.df} df, p = {test.p:.3g}")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for group, km in curves.items():
    ax.step(
        [s[0] for s in km.steps],
        [s[1] for s in km.steps],
        where="post",
        label=f"MRD {group} (n={km.n})",
    )
ax.set_xlabel(f"days from day {LANDMARK_DAY}")
ax.set_ylabel("relapse-free")
ax.set_ylim(0, 1.02)
ax.legend()
fig.savefig(os.environ.get("KM_FIGURE", "km-by-mrd.png"), dpi=120)
db.close()
