"""The MTCNN-style cascade against scikit-image's LBP cascade, on the same face/non-face crops.

Run: python benchmarks/faces_vs_lbp.py [--n 100]
"""

import argparse
import time

import torch

from supervised.face import lbp_comparison

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--n", type=int, default=100, help="faces and non-faces of lfw_subset()")
args = parser.parse_args()
torch.set_num_threads(1)
start = time.perf_counter()
scores = lbp_comparison(n=args.n)
print(
    f"{scores.pop('crops')} crops ({args.n} faces, {args.n} non-faces), "
    f"{time.perf_counter() - start:.1f} s"
)
for detector in ("mtcnn", "lbp"):
    print(
        f"{detector:6s} precision {scores[f'{detector}_precision']:.3f}  "
        f"recall {scores[f'{detector}_recall']:.3f}"
    )
