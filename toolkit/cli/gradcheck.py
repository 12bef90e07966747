"""``toolkit gradcheck``: gradient estimators against the element loop on one batch.

The checking module is imported only when this command runs.
"""

from __future__ import annotations

import argparse

from .loading import load
from .options import Commands, Options

__all__ = ["add_gradcheck"]


def add_gradcheck(commands: Commands, options: Options) -> None:
    """``toolkit gradcheck SPEC [--estimators A,B,...] [--batch N] [--sample K]``."""
    gradients = commands.add_parser(
        "gradcheck",
        parents=[options.spec],
        help="compare gradient estimators with the element-loop reference on one batch",
        description="Compare gradient estimators with the element loop's central differences "
        "(h = 1e-4) on the batch a run's first iteration draws. Where the loop's change of an "
        "element moves a pre-activation across a breakpoint its activation declares (a "
        "kink), moves a layer onto another of the pieces it labels (a window's maximum "
        "that changes), or the output across a breakpoint the loss declares, those "
        "elements are compared "
        "apart, also against central differences at smaller steps or one-sided ones: an "
        "estimator passes there if it matches either reference or lies between the slopes "
        "on either side of the kink.",
    )
    gradients.add_argument("spec", help="spec file")
    gradients.add_argument(
        "--estimators",
        metavar="A,B,...",
        help="estimators to check (default: every registered one)",
    )
    gradients.add_argument(
        "--batch", metavar="N", type=int, help="batch size (default: the spec's train.batch_size)"
    )
    gradients.add_argument(
        "--sample",
        metavar="K",
        type=int,
        help="elements compared per parameter when the reference is sampled, as it is where "
        "a parameter has more than 2000 (default: 200)",
    )
    gradients.set_defaults(handler=_gradcheck)


def _gradcheck(args: argparse.Namespace) -> int:
    """Print the gradient check of one batch; 1 if a checked estimator is out of tolerance,
    2 if every estimator refused the spec's network (nothing was compared)."""
    from ..runs.gradcheck import (  # only this command needs it
        describe_report,
        gradcheck,
        parse_names,
    )

    names = parse_names(args.estimators) if args.estimators is not None else None
    report = gradcheck(load(args), names, batch=args.batch, sample=args.sample)
    print("\n".join(describe_report(report)))
    if report.skipped_all:
        return 2
    return 0 if report.passed else 1
