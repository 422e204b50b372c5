"""The graph engine: fit's training epoch captured once and replayed as one CUDA graph.

The epoch is one static function over preallocated device buffers, so an epoch costs one copy and one
replay instead of ~30 launches a batch.

The captured epoch reads every random draw from a buffer: the host draws them with fit's own
generator, in the eager loop's order (the permutation, then each batch's augmentation_draws), and
copies them in with one transfer per epoch. So both engines see the same batches and the same
augmentation, and give the same history and weights within float tolerance (exactly, on the CPU,
where the static function simply runs eagerly: that is how the tests check it without a GPU).
Dropout masks come from torch's generator: the same masks on the CPU; on CUDA the graph reads them
from its own offsets into that generator, so they may differ from the eager loop's (same distribution).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .data import TensorData
from .eager import EpochSums
from .errors import InvalidInput
from .recipes import Recipe
from .tensors import apply_augmentation, augmentation_draws

ENGINES = ("auto", "eager", "graph")
# Whether engine="auto" picks the graph on CUDA: only on figures from a GPU where the graph matched the
# eager loop's history and was faster. Measured on an NVIDIA H200 on 2026-11-30 (bench/gpu_check.sh,
# bench/results/nvidia-h200-2026-11-30.json): the 100-epoch baseline in 1.6 s against 15.1 s eager,
# every epoch's loss and accuracy identical. Set False again if a GPU ever measures otherwise.
AUTO_PICKS_GRAPH = True
# Losses known to be static functions of (outputs, labels); 'auto' captures no other.
CAPTURABLE_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)


def refusal(model: nn.Module, data: object, recipe: Recipe) -> str | None:
    """Why the graph engine cannot run this training, or None when it can."""
    if not isinstance(data, TensorData):
        return (
            f"the training data is a {type(data).__name__}, whose batches are built on the host: "
            "pass the tensors from ffnn_lab.prepare_cifar2(), or use engine='eager'"
        )
    device = next(model.parameters()).device
    if data.device != device:
        return f"the data is on {data.device} but the model on {device}: move one to the other"
    if recipe.mixup:
        return (
            f"mixup={recipe.mixup:g} draws a blend weight and picks labels on the host every batch: "
            "use engine='eager', or mixup=0"
        )
    if recipe.schedule != "constant":
        return (
            f"schedule={recipe.schedule!r} changes the learning rate on the host every batch: "
            "use engine='eager', or schedule='constant'"
        )
    return None


class GraphedEpochs:
    """One training epoch over preallocated buffers, replayed as a CUDA graph (run eagerly on the CPU)."""

    def __init__(
        self,
        model: nn.Module,
        data: TensorData,
        recipe: Recipe,
        loss_fn: nn.Module,
        opt: torch.optim.Optimizer,
        gen: torch.Generator,
    ) -> None:
        self.model, self.data, self.loss_fn, self.opt, self.gen = model, data, loss_fn, opt, gen
        self.batch, self.shift, self.flip = recipe.batch_size, recipe.max_shift, recipe.flip
        n = len(data)
        # rows: shuffled order, vertical and horizontal shift offsets, mirror flags (0/1)
        self.draws = torch.arange(n, device=data.device).repeat(4, 1)
        self.draws[1:] = 0
        self.sums = EpochSums(data.device, n)
        self.graph: torch.cuda.CUDAGraph | None = None
        model.train()
        if data.device.type == "cuda":
            self._capture()
        self.next_draws = self._draw()

    def _draw(self) -> torch.Tensor:
        """This epoch's random draws on fit's generator, in the order the eager loop takes them: the
        permutation, then each batch's augmentation_draws."""
        n, b = len(self.data), self.batch
        order = torch.randperm(n, generator=self.gen)
        per_batch = [
            augmentation_draws(min(b, n - start), self.shift, self.flip, self.gen) for start in range(0, n, b)
        ]
        return torch.cat([order[None], torch.cat(per_batch, dim=1)])

    def _step(self, part: slice) -> None:
        """One minibatch update, exactly as fit's eager loop does it, on static slices of the buffers."""
        idx = self.draws[0, part]
        x, y = self.data.x[idx], self.data.y[idx]
        if self.shift or self.flip:
            x = apply_augmentation(x, self.draws[1:, part], self.shift, self.flip)
        out = self.model(x)
        loss = self.loss_fn(out, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sums.add(loss, out, y, first=part.start == 0)

    def _epoch(self) -> None:
        self.sums.loss.zero_()
        self.sums.correct.zero_()
        n = len(self.data)
        for start in range(0, n, self.batch):  # the last, partial batch is a static shape too
            self._step(slice(start, min(start + self.batch, n)))

    def _capture(self) -> None:
        """Warm up on a side stream, restore the starting state, then capture one whole epoch."""
        capturable = "capturable" in self.opt.defaults  # AdamW's step count (SGD keeps none)
        for group in self.opt.param_groups if capturable else ():
            group["capturable"] = True
        saved = {k: v.clone() for k, v in self.model.state_dict().items()}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        try:
            with torch.cuda.stream(side), warnings.catch_warnings():
                # AdamW warns that capturable=True runs slower uncaptured: these steps are meant to
                warnings.filterwarnings("ignore", "This instance was constructed with capturable=True")
                self._warm_up()
            torch.cuda.current_stream().wait_stream(side)
            self._restore(saved)
            self.opt.zero_grad(set_to_none=True)  # so the captured backward allocates from the graph's pool
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph, stream=side):  # warm-up's stream: its BLAS handles
                self._epoch()
        except Exception:
            for group in self.opt.param_groups if capturable else ():
                group["capturable"] = False  # the eager loop takes over
            raise
        finally:
            self._restore(saved)  # capturing runs nothing, but a failed capture must leave no trace

    def _warm_up(self) -> None:
        """Each batch shape three times: gradients, optimiser state and kernel plans get allocated.

        The weights and optimiser state change and must be restored (_restore) before training."""
        n, b = len(self.data), self.batch
        cuda = [self.data.device] if self.data.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # dropout's generator, as if no step had run
            for _ in range(3):
                self._step(slice(0, min(b, n)))
                if n > b and n % b:
                    self._step(slice(0, n % b))

    def _restore(self, saved: dict[str, torch.Tensor]) -> None:
        """The model's starting weights and a fresh optimiser (zeroed state acts as none), in place."""
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                v.copy_(saved[k])
            for state in self.opt.state.values():
                for t in state.values():
                    if isinstance(t, torch.Tensor):
                        t.zero_()

    def run_epoch(self) -> EpochSums:
        """Train one epoch; the sums stay on the device until fit reads them."""
        self.draws.copy_(self.next_draws)
        if self.graph is not None:
            self.graph.replay()
        else:
            self._epoch()
        self.next_draws = self._draw()  # host work that overlaps the GPU's epoch
        return self.sums


def _has_hooks(module: nn.Module) -> bool:
    hooks = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return any(getattr(module, name, None) for name in hooks)


def graph_runner(
    engine: str,
    model: nn.Module,
    data: object,
    recipe: Recipe,
    loss_fn: nn.Module,
    opt: torch.optim.Optimizer,
    gen: torch.Generator,
) -> GraphedEpochs | None:
    """The graph engine for this fit, or None for the eager loop ('auto': the graph on CUDA when it
    can and AUTO_PICKS_GRAPH says it was measured to pay).

    A replay runs the captured kernels, not the model's Python: code in forward that counts, prints
    or draws Python random numbers runs only during capture, so 'auto' leaves models with hooks to
    the eager loop, and such models need engine='eager'."""
    if engine not in ENGINES:
        raise InvalidInput(f"engine={engine!r}: use one of {', '.join(map(repr, ENGINES))}")
    if engine == "eager":
        return None
    why = refusal(model, data, recipe)
    if engine == "graph":
        if why:
            raise InvalidInput(f"engine='graph' cannot train this: {why}")
        assert isinstance(data, TensorData)
        return GraphedEpochs(model, data, recipe, loss_fn, opt, gen)
    if not AUTO_PICKS_GRAPH or why or not isinstance(data, TensorData) or data.device.type != "cuda":
        return None
    if not isinstance(loss_fn, CAPTURABLE_LOSSES):  # a loss of the student's own may read values on the host
        return None
    if any(_has_hooks(m) for m in model.modules()):  # a replay runs kernels, not Python: hooks would go quiet
        return None
    try:
        return GraphedEpochs(model, data, recipe, loss_fn, opt, gen)
    except RuntimeError as e:  # a model that reads values on the host cannot be captured
        warnings.warn(f"CUDA graph capture failed ({e}); training eagerly instead", stacklevel=3)
        return None
