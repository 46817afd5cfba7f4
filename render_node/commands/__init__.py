"""Subcommands of `showroom`, one module per subject. Each module exposes `register(subparsers)`, which adds its
subcommands and sets `func` (taking the parsed args, returning the exit code) on each."""

from __future__ import annotations

from types import ModuleType

from render_node.commands import (
    assets,
    audit,
    branches,
    catalog,
    cluster,
    commerce,
    payments,
    rates,
    render,
    secrets,
    serve,
    staff,
)

COMMAND_MODULES: tuple[ModuleType, ...] = (serve, render, assets, catalog, commerce, payments, secrets, rates, staff,
                                          audit, branches, cluster)
