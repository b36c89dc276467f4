"""Selection-aware intervals: resampling the whole select-then-test procedure."""

from __future__ import annotations

import numpy as np
import pytest

from medpair_stats import compare_scores
from medpair_stats.selection import CandidateScores
from medpair_stats.selection_aware import selection_aware_interval


def _cs(mat: np.ndarray, prefix: str = "v", clusters=None) -> CandidateScores:
    cands = tuple(f"f{i:02d}" for i in range(mat.shape[0]))
    items = tuple(f"{prefix}{j:04d}" for j in range(mat.shape[1]))
    return CandidateScores(candidates=cands, items=items, scores=mat.astype(float), clusters=clusters,
                           n_union=len(items))


def _bern(rng, p, shape):
    return (rng.random(shape) < np.asarray(p)[..., None]).astype(float) if np.ndim(p) else (rng.random(shape) < p).astype(float)


def test_dominant_candidate_gives_the_plain_interval() -> None:
    rng = np.random.default_rng(0)
    n_val, n_test, B = 300, 400, 4000
    med_val = _bern(rng, np.array([0.85, 0.3, 0.3, 0.3]), (4, n_val))
    base_val = _bern(rng, np.array([0.7, 0.2, 0.2, 0.2]), (4, n_val))
    med_test = _bern(rng, np.array([0.8, 0.3, 0.3, 0.3]), (4, n_test))
    base_test = _bern(rng, np.array([0.7, 0.2, 0.2, 0.2]), (4, n_test))
    res = selection_aware_interval(_cs(med_val), _cs(base_val), med_test, base_test, n_resamples=B, seed=1)
    plain = compare_scores(med_test[0], base_test[0], n_resamples=B, seed=2)
    assert res.ci_low == pytest.approx(plain.ci_low, abs=0.012)
    assert res.ci_high == pytest.approx(plain.ci_high, abs=0.012)
    assert np.mean(res.replicates) == pytest.approx(med_test[0].mean() - base_test[0].mean(), abs=0.004)


def test_equal_candidates_widen_the_interval() -> None:
    rng = np.random.default_rng(1)
    n_val, n_test, C, B = 80, 300, 10, 3000
    med_val, base_val = _bern(rng, 0.5, (C, n_val)), _bern(rng, 0.5, (C, n_val))
    med_test, base_test = _bern(rng, 0.5, (C, n_test)), _bern(rng, 0.5, (C, n_test))
    mv, bv = _cs(med_val), _cs(base_val)
    res = selection_aware_interval(mv, bv, med_test, base_test, n_resamples=B, seed=3)
    m_sel = int(np.argmax(med_val.mean(axis=1)))  # first max = tie-break order
    b_sel = int(np.argmax(base_val.mean(axis=1)))
    plain = compare_scores(med_test[m_sel], base_test[b_sel], n_resamples=B, seed=4)
    sa_width, plain_width = res.ci_high - res.ci_low, plain.ci_high - plain.ci_low
    assert sa_width >= plain_width
    assert sa_width > 1.15 * plain_width  # the luck of selection is real here


def test_reproducible_and_seed_dependent() -> None:
    rng = np.random.default_rng(2)
    mv, bv = _cs(_bern(rng, 0.5, (3, 40))), _cs(_bern(rng, 0.5, (3, 40)))
    mt, bt = _bern(rng, 0.5, (3, 50)), _bern(rng, 0.5, (3, 50))
    a = selection_aware_interval(mv, bv, mt, bt, n_resamples=500, seed=5)
    b = selection_aware_interval(mv, bv, mt, bt, n_resamples=500, seed=5)
    c = selection_aware_interval(mv, bv, mt, bt, n_resamples=500, seed=6)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert not np.array_equal(a.replicates, c.replicates)


def test_medical_prompt_mode_base_follows_the_medical_choice() -> None:
    rng = np.random.default_rng(3)
    n = 300
    med_val = _bern(rng, np.array([0.9, 0.2]), (2, n))  # medical always picks f00
    med_test = _bern(rng, np.array([0.6, 0.2]), (2, n))
    base_test = _bern(rng, np.array([0.3, 0.9]), (2, n))  # base would be far better with f01
    res = selection_aware_interval(_cs(med_val), None, med_test, base_test, base_test_for_med=base_test,
                                   n_resamples=2000, seed=0)
    assert np.mean(res.replicates) == pytest.approx(med_test[0].mean() - base_test[0].mean(), abs=0.01)


def test_test_clusters_are_resampled_whole() -> None:
    rng = np.random.default_rng(4)
    n_cl, per = 30, 10
    # items of one cluster share their outcome: 30 effective units, not 300
    med_test = np.repeat(_bern(rng, 0.6, (1, n_cl)), per, axis=1)
    base_test = np.repeat(_bern(rng, 0.4, (1, n_cl)), per, axis=1)
    val = _cs(np.ones((1, 20)))
    clusters = [f"c{j // per}" for j in range(n_cl * per)]
    flat = selection_aware_interval(val, val, med_test, base_test, n_resamples=2000, seed=0)
    clus = selection_aware_interval(val, val, med_test, base_test, test_clusters=clusters, n_resamples=2000, seed=0)
    assert (clus.ci_high - clus.ci_low) > 2.0 * (flat.ci_high - flat.ci_low)
    ref = compare_scores(med_test[0], base_test[0], clusters=clusters, n_resamples=2000, seed=1)
    assert clus.ci_low == pytest.approx(ref.ci_low, abs=0.03) and clus.ci_high == pytest.approx(ref.ci_high, abs=0.03)


@pytest.mark.parametrize("spread", [0.0, 0.1])
def test_coverage_of_the_selected_pair_and_of_the_procedure(spread: float) -> None:
    # 6 candidates per model; spread 0: all equal (a true null), 0.1: true accuracies 0.1 apart
    rng = np.random.default_rng(int(10 * spread) + 20)
    cands, n_val, n_test, reps = 6, 60, 200, 150
    p_med = np.linspace(0.6 - spread / 2, 0.6 + spread / 2, cands)
    p_base = p_med - 0.03

    def draw(p: np.ndarray, n: int) -> np.ndarray:
        u = rng.random(n)  # a shared item ease: candidates' errors are correlated
        v = np.where(rng.random((p.size, n)) < 0.7, u[None, :], rng.random((p.size, n)))
        return (v < p[:, None]).astype(float)

    # the procedure's expected difference: selection on fresh validation draws, averaged
    picks = [(np.argmax(draw(p_med, n_val).mean(1)), np.argmax(draw(p_base, n_val).mean(1))) for _ in range(2000)]
    procedure = float(np.mean([p_med[m] - p_base[b] for m, b in picks]))
    sel_cov = proc_cov = 0
    for rep in range(reps):
        mv, bv, mt, bt = draw(p_med, n_val), draw(p_base, n_val), draw(p_med, n_test), draw(p_base, n_test)
        res = selection_aware_interval(_cs(mv), _cs(bv), mt, bt, n_resamples=400, seed=rep)
        truth = p_med[np.argmax(mv.mean(1))] - p_base[np.argmax(bv.mean(1))]
        sel_cov += res.ci_low <= truth <= res.ci_high
        proc_cov += res.ci_low <= procedure <= res.ci_high
    # the documented guarantee: at least nominal coverage of both (binomial sd 1.8% at 150 replicates)
    floor = 0.95 - 3.3 * np.sqrt(0.95 * 0.05 / reps)
    assert sel_cov / reps >= floor and proc_cov / reps >= floor
    # and the selected pair's observed difference is what the record reports as diff
    assert res.selected_diff == pytest.approx(mt[np.argmax(mv.mean(1))].mean() - bt[np.argmax(bv.mean(1))].mean())
