"""The loss weights of the stereo cycle model (torch-free, so the command line can show them instantly)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

TERMS = ("w2l_l1", "stereo_l1", "cycle_l1", "lr_consistency", "sync", "adv")  #: generator terms, in log order


@dataclass(frozen=True)
class LossWeights:
    """Weight of each generator term (the table in :mod:`.losses`)."""

    w2l_l1: float = 1.0
    stereo_l1: float = 1.0
    cycle_l1: float = 0.1
    lr_consistency: float = 0.1
    sync: float = 0.03
    adv: float = 0.07

    def to_dict(self) -> dict:
        """Plain values, by term name."""
        return asdict(self)
