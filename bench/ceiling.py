"""What this world allows: the model against the oracle as the evidence grows, and what is knowable of new rooms.

    python -m bench.ceiling --data /tmp/xuanpin-bench/ceiling-x1/medium-0 /tmp/xuanpin-bench/ceiling-x4/medium-0
    python -m bench.ceiling --data DIR --model ARTIFACT      # also the served earnings (needs a trained model)

Issue 14's targets are fractions of the oracle, the generator's own expected orders if shelved (fixtures/oracle.py:
trust x competence[a, category] x conversion[a, price band] x appeal x the audience's response). Two questions
decide which of them any model can reach:

1. **Evidence.** Snapshots made with ``xuanpin generate --traffic K`` hold K times the orders about the same world
   and the same truth. The model is fitted on each (the shelf-rate model and the room x good term on the whole
   snapshot, as ``bench.train --quality`` scores "ours", without training the vectors) and scored: NDCG@50 of
   each room's top 50 against the truth, warm rooms and new ones (fans, no sales), and the mean Spearman of the
   model's and the truth's order within the room's main category (warm rooms). If NDCG climbs toward 1 with K,
   the gap is evidence; if it stops short, the model's form. Beside it, where the misses are (the truth's top 50
   by how much the good sold, by its price within its category; rooms by their orders and price positioning),
   and what the evidence about the goods' levels allows a model of the generator's own form: everything known
   but each good's appeal, estimated from its orders in the snapshot (``level_oracle``).
2. **What a new room lets anyone know.** A new room has fans but no sales, so its own factors are unknowable
   from its orders. Its truth is rescored with them replaced by their expectation given what it shows (the
   ranking by the expected gain maximises the expected DCG), the audience's part kept exact (so this is an
   upper bound: a model must also learn the audience's response from other rooms' sales):

   * competence in each category: the population's (1 in the declared vertical; a second category at 0.6 drawn
     with probability 0.4 x its popularity; else 0.12), or its posterior given the categories of the room's
     shelf listings (75% vertical, 15% second, 10% at random: the listings show the second category), or the
     truth's;
   * conversion per price band, exp(slope x (band - 1)), slope = strength x (0.35 N(0, 1) + 0.25 (level - 1)):
     its expectation over the room's price positioning and the noise (the noise is the room's own and nothing
     observable carries it), or given the positioning (which its followers' price levels mostly reveal: fans
     follow rooms of their own level), or the truth's;
   * trust is one number per room: it does not change a room's order.

   Printed as NDCG@50 of new rooms (and of warm rooms, for comparison) for each combination, and with the goods
   that no room able to sell has listed (new goods, never-listed ones: no traffic reveals them) ranked last.
   With ``--model`` also the served earnings, graded as ``xuanpin evaluate`` grades them (expected commission,
   pages of 20, gates, category cap and support share, NDCG@50) but on the whole snapshot: the model's served
   picks, the served oracle (the truth arranged by the served rules) and the served observable oracle.

``--config`` fits the model with another training configuration (to ask which part of it moves a figure).

A benchmark, not a test: it prints figures for the README (What this world allows).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fixtures.fit import LEVELS, fit_of
from fixtures.marketplace import Truth, WorldBeforeOrders, load_truth, world_before_orders
from training.metrics import ndcg_at_k

K = 50
#: competence of a room in its vertical, in a second category, elsewhere (fixtures/people.make_anchors)
COMP_MAIN, COMP_SECOND, COMP_OTHER, P_SECOND = 1.0, 0.6, 0.12, 0.4
#: share of a room's listings in its vertical, its "second" category, at random (fixtures/market.make_shelf)
SHELF_MAIN, SHELF_SECOND, SHELF_RANDOM = 0.75, 0.15, 0.10
LEVEL_PRIOR = np.array([0.45, 0.35, 0.20])  # rooms' price positioning (fixtures/fit.make_personas)
GOOD_CLASSES = [1, 20, 100]  # a good's orders in the snapshot (at traffic 1): 0, 1-19, 20-99, 100+
GOOD_LABELS = ["0", "1-19", "20-99", "100+"]


def _ndcg(ranked_by: np.ndarray, gains: np.ndarray) -> np.ndarray:
    top = np.argpartition(-ranked_by, K, axis=1)[:, :K]
    order = np.take_along_axis(ranked_by, top, 1).argsort(axis=1)[:, ::-1]
    return ndcg_at_k(np.take_along_axis(top, order, 1), gains, K)


def model_figures(data: Path, world: WorldBeforeOrders | None = None, config=None) -> dict:
    """The model fitted on the whole snapshot (as ``bench.taste``; `config` a ``TrainConfig``, the defaults when
    None): warm / new NDCG@50, main-category Spearman, category x quality alone, and where the misses are (by the
    good's price quintile and the room's positioning only with the `world`)."""
    from recommender.audience_fit import fit_audience_rates
    from recommender.contract import load_snapshot
    from recommender.interactions import anchor_fan_engagement
    from recommender.shelf_rate import fit_shelf
    from training.config import TrainConfig
    from training.fit_metrics import main_category_spearman

    config = config or TrainConfig()
    started = time.perf_counter()
    m, truth = load_snapshot(data), load_truth(data)
    expected = np.asarray(truth.expected_sales, np.float64)
    new = np.zeros(len(m.anchor_ids), bool)
    new[truth.new_anchors] = True
    engagement = anchor_fan_engagement(m, config.anchors.buyer_weight)
    fitted = fit_shelf(m, config.shelf_rate, engagement)
    rates = fit_audience_rates(m, fitted, engagement, config.audience_fit)
    out: dict = {"orders": len(m.purchases)}
    traffic = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8")).get("traffic", 1.0)
    # evidence per good and per room at traffic 1, so that the classes hold the same goods and rooms at every K
    good_orders = np.bincount(m.purchases["product"].to_numpy(), minlength=expected.shape[1]) / traffic
    room_orders = np.bincount(m.purchases["anchor"].to_numpy(), minlength=len(new)) / traffic
    good_class = np.digitize(good_orders, GOOD_CLASSES)
    # with the world: misses by the good's price quintile within its category, rooms by their price positioning
    if world is not None:
        price, cat = m.products["price"].to_numpy(), world.catalogue.category
        rel = price / np.array([np.median(price[cat == c]) if (cat == c).any() else 1 for c in range(cat.max() + 1)]
                               )[cat]
        quint = np.zeros(len(rel), np.int64)
        for c in np.unique(cat):
            members = cat == c
            quint[members] = np.digitize(rel[members], np.quantile(rel[members], [0.2, 0.4, 0.6, 0.8]))
    for name, rows in (("warm", np.flatnonzero(~new)), ("new", np.flatnonzero(new))):
        per_room, missed, wanted = [], np.zeros(len(GOOD_CLASSES) + 1), np.zeros(len(GOOD_CLASSES) + 1)
        q_missed, q_wanted, flat = np.zeros(5), np.zeros(5), []
        for lo in range(0, len(rows), 256):
            r = rows[lo:lo + 256]
            ranked = rates.top_goods(r, K)[0].astype(np.int64)
            per_room.append(ndcg_at_k(ranked, expected[r], K))
            flat.append(ndcg_at_k(fitted.rates.top_goods(r, K)[0].astype(np.int64), expected[r], K))
            best = np.argpartition(-expected[r], K, axis=1)[:, :K]
            hit = (best[:, :, None] == ranked[:, None, :]).any(axis=2)
            wanted += np.bincount(good_class[best].ravel(), minlength=len(wanted))
            missed += np.bincount(good_class[best][~hit], minlength=len(wanted))
            if world is not None:
                q_wanted += np.bincount(quint[best].ravel(), minlength=5)
                q_missed += np.bincount(quint[best][~hit], minlength=5)
        per_room = np.concatenate(per_room)
        out[name] = float(np.nanmean(per_room))
        out[f"{name}_category_x_quality"] = float(np.nanmean(np.concatenate(flat)))
        # which of the truth's top 50 the model misses, by how many orders the good sold (at traffic 1)
        out[f"{name}_missed"] = {label: round(float(missed[i] / wanted[i]), 3) if wanted[i] else None
                                 for i, label in enumerate(GOOD_LABELS)}
        out[f"{name}_top50_share"] = {label: round(float(wanted[i] / wanted.sum()), 3)
                                      for i, label in enumerate(GOOD_LABELS)}
        if world is not None:
            out[f"{name}_missed_by_price_quintile"] = [round(float(x), 3) for x in q_missed / q_wanted]
            out[f"{name}_top50_by_price_quintile"] = [round(float(x), 3) for x in q_wanted / q_wanted.sum()]
            if name == "warm":
                level = world.anchors.personas.level[rows]
                out["warm_by_positioning"] = [round(float(np.nanmean(per_room[level == lv])), 3) for lv in range(3)]
        if name == "warm":  # by the room's own orders (terciles at traffic 1)
            edges = np.quantile(room_orders[rows], [1 / 3, 2 / 3])
            tercile = np.digitize(room_orders[rows], edges)
            out["warm_by_room_orders"] = [round(float(np.nanmean(per_room[tercile == t])), 3) for t in range(3)]
    cats = list(fitted.rates.categories)
    goods_category = np.asarray(fitted.rates.category, np.int64)
    names = m.anchors["main_category"].astype(str).to_numpy()
    main_cat = np.array([cats.index(c) if c in cats else -1 for c in names])
    warm = np.flatnonzero(~new)
    rho = [main_category_spearman(np.asarray(rates.expected(warm[lo:lo + 256]), np.float64),
                                  expected[warm[lo:lo + 256]], goods_category, main_cat[warm[lo:lo + 256]])
           for lo in range(0, len(warm), 256)]
    out["spearman"] = float(np.average(rho, weights=[min(256, len(warm) - lo) for lo in range(0, len(warm), 256)]))
    out["seconds"] = time.perf_counter() - started
    return out


def second_category_posterior(counts: np.ndarray, main: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """(rooms, categories) P(the room's second category is c | the categories of its shelf listings).

    The shelf puts a listing in the vertical, the room's "second" category or a random one (by popularity); a
    room without a second category lists its 15% in the first other category (the generator's argsort of tied
    competences), so that category's posterior keeps its prior share of "no second category"."""
    n_a, n_c = counts.shape
    post = np.zeros((n_a, n_c))
    for a in range(n_a):  # rooms x 13 hypotheses of 12 categories: small
        c0 = main[a]
        tied = np.full(n_c, COMP_OTHER)
        tied[c0] = COMP_MAIN
        default = int(np.argsort(-tied)[1])  # the shelf's "second" category of a room without one
        hyps = [(c, c, P_SECOND * popularity[c]) for c in range(n_c) if c != c0]
        hyps.append((-1, default, 1 - P_SECOND * (1 - popularity[c0])))
        logl = []
        for _, shelf_second, prior in hyps:
            p = SHELF_RANDOM * popularity.copy()
            p[c0] += SHELF_MAIN
            p[shelf_second] += SHELF_SECOND
            logl.append(np.log(prior) + counts[a] @ np.log(p))
        w = np.exp(np.array(logl) - max(logl))
        w /= w.sum()
        for (second, _, _), weight in zip(hyps, w, strict=True):
            if second >= 0:
                post[a, second] += weight
    return post


def _shelf_rows(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """(anchor rows, good rows) of the snapshot's shelf listings (the generator's ids are rows + offsets)."""
    shelf = pd.read_parquet(data / "shelf.parquet", columns=["anchor_id", "product_id"])
    return shelf["anchor_id"].to_numpy() - 10_000_001, shelf["product_id"].to_numpy() - 6_000_000_001


def room_guesses(data: Path, w: WorldBeforeOrders) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each room's competence (rooms, categories) and conversion (rooms, price bands): the truth's and its
    expectations given less (see the module docstring)."""
    anchors, fit, popularity = w.anchors, w.fit, w.cats.popularity
    cat = w.catalogue.category
    n_a = len(anchors.trust)
    a_row, p_row = _shelf_rows(data)
    counts = sp.coo_matrix((np.ones(len(a_row)), (a_row, cat[p_row])), shape=(n_a, w.cats.n_cat)).toarray()
    main = anchors.main
    comp = {"truth": anchors.competence}
    prior = COMP_OTHER + (COMP_SECOND - COMP_OTHER) * P_SECOND * np.tile(popularity, (n_a, 1))
    prior[np.arange(n_a), main] = COMP_MAIN
    comp["vertical"] = prior
    shelf_post = COMP_OTHER + (COMP_SECOND - COMP_OTHER) * second_category_posterior(counts, main, popularity)
    shelf_post[np.arange(n_a), main] = COMP_MAIN
    comp["shelf"] = shelf_post

    # conversion per band (rooms, 3): E[exp(slope (b - 1))], slope = s (sd z + lean (level - 1))
    s, sd = fit.strength, fit.band_conversion
    b = np.arange(3) - 1
    noise = np.exp(0.5 * (s * sd * b) ** 2)  # E[exp(s sd z b)], z ~ N(0, 1)
    lean = np.exp(np.outer(s * 0.25 * (np.arange(LEVELS) - 1), b))  # (levels, bands)
    personas = anchors.personas
    conv = {"truth": np.exp(personas.band_slope[:, None] * b[None, :]) if fit.active else np.ones((n_a, 3)),
            "positioning": (lean[personas.level] * noise) if fit.active else np.ones((n_a, 3)),
            "prior": np.tile((LEVEL_PRIOR @ lean) * noise, (n_a, 1)) if fit.active else np.ones((n_a, 3))}
    return comp, conv


def observable_oracle(data: Path, world: WorldBeforeOrders | None = None) -> dict:
    """NDCG@50 of the truth with the rooms' own factors replaced by their expectations, new and warm rooms."""
    meta = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8"))
    truth = load_truth(data)
    w = world or world_before_orders(meta["scale"], meta["seed"], meta["fit"])
    n_a = len(w.anchors.trust)
    new = np.zeros(n_a, bool)
    new[truth.new_anchors] = True
    cat, band = w.catalogue.category, w.catalogue.targets.band
    comp, conv = room_guesses(data, w)
    a_row, p_row = _shelf_rows(data)
    # goods no traffic can reveal: new goods, and goods that no room able to sell has listed
    sellable = ~new[a_row]
    sellable &= ~np.isin(p_row, truth.new_products)
    revealed = np.zeros(len(cat), bool)
    revealed[p_row[sellable]] = True
    out: dict = {"goods_never_sellable": int((~revealed).sum())}
    for group, rows in (("new", np.flatnonzero(new)), ("warm", np.flatnonzero(~new))):
        scores: dict[str, list] = {}
        for lo in range(0, len(rows), 128):
            r = rows[lo:lo + 128]
            e = np.asarray(truth.expected_sales[r], np.float64)
            own = comp["truth"][r][:, cat] * conv["truth"][r][:, band]
            audience = e / own  # the room's audience x the good's appeal: what stays known
            for cn, c in comp.items():
                for vn, v in conv.items():
                    guess = audience * c[r][:, cat] * v[r][:, band]
                    scores.setdefault(f"{cn}|{vn}", []).append(_ndcg(guess, e))
            # the truth, but knowing nothing of the goods that never sold anywhere: ranked last
            scores.setdefault("sellable goods only", []).append(_ndcg(np.where(revealed, e, -1.0), e))
            for cn, vn in (("shelf", "positioning"), ("vertical", "prior")):
                guess = audience * comp[cn][r][:, cat] * conv[vn][r][:, band]
                scores.setdefault(f"{cn}|{vn}, sellable goods only", []).append(
                    _ndcg(np.where(revealed, guess, -1.0), e))
        out[group] = {name: float(np.nanmean(np.concatenate(v))) for name, v in scores.items()}
    return out


def level_oracle(data: Path) -> dict:
    """NDCG@50 of a model with the generator's form that knows everything but the goods' appeal, which it
    estimates from the snapshot's orders of each good: the posterior mean of appeal (prior lognormal(0, 0.7), as
    drawn) given the good's orders, Poisson with mean appeal x its exposure (the truth's expected orders of its
    shelf entries without the appeal, times their days on sale, times the traffic; one factor puts the totals on
    the orders' scale, repeats and bursts included). Goods that never sold anywhere keep the prior. What the
    evidence about the goods' levels allows a model of the right form."""
    from fixtures.world import DAYS, START

    meta = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8"))
    traffic = meta.get("traffic", 1.0)
    truth = load_truth(data)
    e_all = truth.expected_sales
    n_a, n_p = e_all.shape
    appeal = truth.product_appeal
    new = np.zeros(n_a, bool)
    new[truth.new_anchors] = True
    shelf = pd.read_parquet(data / "shelf.parquet")
    a_row = shelf["anchor_id"].to_numpy() - 10_000_001
    p_row = shelf["product_id"].to_numpy() - 6_000_000_001
    listed = (shelf["listed_at"] - START).dt.total_seconds().to_numpy() / 86400
    ok = ~new[a_row] & ~np.isin(p_row, truth.new_products)
    days = DAYS - np.clip(listed[ok], 0, DAYS)
    exposure = np.bincount(p_row[ok], np.asarray(e_all[a_row[ok], p_row[ok]], np.float64) / appeal[p_row[ok]]
                           * days / 30 * traffic, minlength=n_p)
    orders = pd.read_parquet(data / "orders.parquet", columns=["product_id"])["product_id"].to_numpy()
    n = np.bincount(orders - 6_000_000_001, minlength=n_p).astype(np.float64)
    exposure *= n.sum() / (appeal * exposure).sum()
    grid = np.linspace(-4, 4, 401)  # log appeal
    log_post = (n[:, None] * grid[None, :] - exposure[:, None] * np.exp(grid)[None, :]
                - 0.5 * (grid / 0.7) ** 2)
    log_post -= log_post.max(axis=1, keepdims=True)
    w = np.exp(log_post)
    estimate = (w * np.exp(grid)).sum(axis=1) / w.sum(axis=1)
    out = {"goods_with_orders": int((n > 0).sum())}
    for group, rows in (("new", np.flatnonzero(new)), ("warm", np.flatnonzero(~new))):
        scores = []
        for lo in range(0, len(rows), 128):
            e = np.asarray(e_all[rows[lo:lo + 128]], np.float64)
            scores.append(_ndcg(e / appeal * estimate, e))
        out[group] = float(np.nanmean(np.concatenate(scores)))
    return out


def served_figures(data: Path, artifact: Path, world: WorldBeforeOrders | None = None) -> dict:
    """Served expected-commission NDCG@50 (pages of 20, gates, caps) of ours, the served oracle and the served
    observable oracle (new rooms: competence from the shelf, conversion from the positioning), on the whole
    snapshot (no goods left out)."""
    from recommender.artifact import load_model
    from recommender.ranking import Ranker
    from training.evaluate import oracle_served, ours_reranked
    from training.tasks import Task

    meta = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8"))
    truth = load_truth(data)
    w = world or world_before_orders(meta["scale"], meta["seed"], meta["fit"])
    model = load_model(artifact, mmap=False)
    ranker = Ranker(model)
    n_a, n_p = len(model.anchor_ids), len(model.product_ids)
    new = np.zeros(n_a, bool)
    new[truth.new_anchors] = True
    e = np.asarray(truth.expected_sales, np.float64)
    value = ranker.goods.price * ranker.goods.commission
    # the observable guess for every room, as in observable_oracle ("shelf|positioning")
    oo = observable_oracle_matrix(data, truth, w)
    out = {}
    for group, rows in (("new", np.flatnonzero(new)), ("warm", np.flatnonzero(~new))):
        task = Task("anchor_goods", rows, sp.csr_matrix((len(rows), n_p)), sp.csr_matrix((len(rows), n_p)), n_p)
        gains = e[rows] * value[None, :]
        price = ranker.goods.price  # the generator's yuan per order: price x one constant
        ranked = {"ours": ours_reranked(ranker, task, K), "oracle_served": oracle_served(ranker, task, e, K, price),
                  "observable_served": oracle_served(ranker, task, oo, K, price)}
        out[group] = {name: float(np.nanmean(ndcg_at_k(r, gains, K))) for name, r in ranked.items()}
    return out


def observable_oracle_matrix(data: Path, truth: Truth, world: WorldBeforeOrders) -> np.ndarray:
    """(anchors, goods) the truth with competence from the shelf and conversion from the positioning."""
    cat, band = world.catalogue.category, world.catalogue.targets.band
    comp, conv = room_guesses(data, world)
    n_a = len(world.anchors.trust)
    out = np.empty((n_a, len(cat)))
    for lo in range(0, n_a, 128):
        r = slice(lo, min(lo + 128, n_a))
        e = np.asarray(truth.expected_sales[r], np.float64)
        out[r] = (e / (comp["truth"][r][:, cat] * conv["truth"][r][:, band])
                  * comp["shelf"][r][:, cat] * conv["positioning"][r][:, band])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", required=True)
    ap.add_argument("--model", type=Path, nargs="*", default=[], help="trained artifacts, one per --data, for the "
                    "served earnings")
    ap.add_argument("--config", type=Path, help="a training configuration (TOML or JSON) for the model's fit")
    ap.add_argument("--skip-model", action="store_true", help="only the observable oracle")
    ap.add_argument("--skip-oracle", action="store_true", help="only the model's figures")
    args = ap.parse_args()
    for i, data in enumerate(args.data):
        meta = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8"))
        head = (f"{data.name} (seed {meta['seed']}, fit {meta['fit']}, traffic {meta.get('traffic', 1)})")
        if not args.skip_model:
            world = world_before_orders(meta["scale"], meta["seed"], fit_of(meta["fit"]).strength)
            from training.config import TrainConfig

            f = model_figures(data, world, TrainConfig.from_file(args.config) if args.config else None)
            print(f"{head}: model: {f['orders']:,} orders; NDCG@50 warm {f['warm']:.3f} new {f['new']:.3f}; "
                  f"Spearman {f['spearman']:.3f}; category x quality alone: warm {f['warm_category_x_quality']:.3f} "
                  f"new {f['new_category_x_quality']:.3f}  ({f['seconds']:.0f} s)", flush=True)
            print(f"{head}: warm rooms by their orders (terciles) {f['warm_by_room_orders']}; the truth's top 50 "
                  f"missed, by the good's orders {GOOD_LABELS}: warm {list(f['warm_missed'].values())} new "
                  f"{list(f['new_missed'].values())}; the truth's top 50 by those classes: warm "
                  f"{list(f['warm_top50_share'].values())} new {list(f['new_top50_share'].values())}", flush=True)
            print(f"{head}: warm rooms by price positioning (cheap, middle, dear) {f['warm_by_positioning']}; the "
                  f"truth's top 50 missed by the good's price quintile in its category: warm "
                  f"{f['warm_missed_by_price_quintile']} new {f['new_missed_by_price_quintile']}; the truth's top 50 "
                  f"by quintile: warm {f['warm_top50_by_price_quintile']}", flush=True)
        if args.skip_model:
            world = None
        if not args.skip_oracle:
            lv = level_oracle(data)
            print(f"{head}: the generator's form, goods' appeal from the orders ({lv['goods_with_orders']:,} goods "
                  f"sold): NDCG@50 warm {lv['warm']:.3f} new {lv['new']:.3f}", flush=True)
            world = world or world_before_orders(meta["scale"], meta["seed"], fit_of(meta["fit"]).strength)
            o = observable_oracle(data, world)
            print(f"{head}: {o.pop('goods_never_sellable'):,} goods new or listed by no room that sells", flush=True)
            for group, figures in o.items():
                print(f"{head}: observable oracle, {group} rooms (competence|conversion): "
                      + "  ".join(f"{k} {v:.3f}" for k, v in figures.items()), flush=True)
        if i < len(args.model):
            world = world or world_before_orders(meta["scale"], meta["seed"], fit_of(meta["fit"]).strength)
            s = served_figures(data, args.model[i], world)
            for group, figures in s.items():
                print(f"{head}: served earnings NDCG@50, {group} rooms: "
                      + "  ".join(f"{k} {v:.3f}" for k, v in figures.items()), flush=True)


if __name__ == "__main__":
    main()
