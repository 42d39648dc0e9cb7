"""Style transfer with each feature network, every result measured by every network.

The losses of ``rlcourse supervised style`` are one network's opinion; a result that lowers
another network's style loss too carries the style rather than a pattern that fools one
network. This runs the default transfer (astronaut after the immunohistochemistry slide) with
the ``random`` network under several seeds and with the pretrained ``mtcnn`` O-Net (and VGG-19
from ``--weights FILE``), prints each result's style and content losses under each network,
the CPU seconds, and writes a figure of the results side by side.

Run: python benchmarks/style_networks.py [--seeds 3] [--weights vgg19.pth] [--figure PNG]
"""

import argparse
import time

import numpy as np
import torch
from matplotlib.figure import Figure

from common.figures import save_figure
from supervised.style import SIZE, STEPS, StyleLoss, as_tensor, style_inputs, transfer
from supervised.style_nets import feature_net

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seeds", type=int, default=3, help="seeds of the random network")
parser.add_argument("--size", type=int, default=SIZE, help="longer side in pixels")
parser.add_argument("--steps", type=int, default=STEPS, help="L-BFGS iterations")
parser.add_argument("--weights", help="a VGG-19 state dict (torchvision's layout) to add")
parser.add_argument("--figure", help="write content, style and the results side by side here")
args = parser.parse_args()
torch.set_num_threads(1)

_, content, style = style_inputs(size=args.size)
nets = {f"random (seed {s})": feature_net("random", seed=s) for s in range(args.seeds)}
nets["mtcnn"] = feature_net("mtcnn")
if args.weights:
    nets["vgg19"] = feature_net(weights=args.weights)
judges = {name: StyleLoss(net, as_tensor(content), as_tensor(style)) for name, net in nets.items()}

results = {}
for name, net in nets.items():
    start, wall = time.process_time(), time.perf_counter()
    image, metrics = transfer(net, content, style, args.steps)
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    results[name] = image
    print(
        f"{name:16s} style {metrics['style_loss_before']:.3g} -> "
        f"{metrics['style_loss_after']:.4f}  content {metrics['content_loss_before']:.3g} -> "
        f"{metrics['content_loss_after']:.3f}  {metrics['evaluations']} evaluations, "
        f"{cpu:.1f} CPU s ({wall:.1f} s wall)"
    )

print("\nstyle loss (content loss) of each result (rows) measured by each network (columns):")
print(f"{'':16s} " + " ".join(f"{name:>18s}" for name in judges))
for made, image in results.items():
    cells = []
    for judge in judges.values():
        with torch.no_grad():
            c, s = judge(as_tensor(image))
        cells.append(f"{float(s):.4f} ({float(c):.2f})")
    print(f"{made:16s} " + " ".join(f"{cell:>18s}" for cell in cells))

if args.figure:
    shown = {"content": content, "style": style}
    shown.update(
        {
            k: v
            for k, v in results.items()
            if not k.startswith("random (seed ") or k == "random (seed 0)"
        }
    )
    fig = Figure(figsize=(3.2 * len(shown), 3.6), layout="constrained")
    for ax, (title, image) in zip(fig.subplots(1, len(shown)), shown.items(), strict=True):
        ax.imshow(np.clip(image, 0, 1))
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    print(f"wrote {save_figure(fig, args.figure)}")
