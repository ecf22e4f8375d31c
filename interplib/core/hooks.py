"""TransformerLens's hook machinery for our own models, or inert stand-ins without it.

Our models subclass ``HookedRootModule`` and route every named activation through a
``HookPoint``, so ``run_with_cache`` and hooks work as in TransformerLens. A bare training
machine (the lent GPU image has torch but no transformer-lens) gets stand-ins with the same
module tree and state dict and no hook machinery, so the same code trains there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

# The type checker reads TransformerLens's classes; the stand-ins share their API.
if TYPE_CHECKING:
    from transformer_lens import HookedRootModule
    from transformer_lens.hook_points import HookPoint
else:
    try:
        from transformer_lens import HookedRootModule
        from transformer_lens.hook_points import HookPoint
    except ImportError:

        class HookPoint(nn.Module):
            """Identity: the stand-in for TransformerLens's hook point."""

            def forward(self, x: Tensor) -> Tensor:
                return x

        class HookedRootModule(nn.Module):
            """Stand-in for TransformerLens's root module: ``nn.Module`` with a no-op ``setup``."""

            def setup(self) -> None:
                pass


__all__ = ["HookPoint", "HookedRootModule"]
