"""File-system building blocks on top of the pvn routines."""

from pvnsim.fs.ufslike import make_putapage

__all__ = ["make_putapage"]
