"""Medians and interleaved ratios: the only statistics the benchmarks report."""

import statistics


def median(values):
    """The median of the values that are not None, or None when there are none."""
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def values(runs, metric, **match):
    """metric of every run whose keys equal `match`, in run order."""
    return [run[metric] for run in runs if all(run.get(key) == value for key, value in match.items())]


def round_ratios(runs, metric, group, numerator, denominator):
    """metric of group=numerator over metric of group=denominator, one ratio per round in which
    both ran (runs are interleaved, so each ratio compares runs made minutes apart at most)."""
    by_round = {}
    for run in runs:
        by_round.setdefault(run["round"], {})[run[group]] = run[metric]
    ratios = []
    for results in by_round.values():
        top, bottom = results.get(numerator), results.get(denominator)
        if top is not None and bottom:
            ratios.append(top / bottom)
    return ratios


def rounded(value, digits=3):
    """value rounded for the report (None stays None)."""
    return None if value is None else round(value, digits)
