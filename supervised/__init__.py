"""Supervised models in numpy and PyTorch: regression, MLP, CNN, autoencoders, GAN, RNN, faces.

The networks that agents use import no plotting and no experiment: :mod:`supervised.networks`
(DQN's Q-networks) and :mod:`supervised.dncnn` (the per-pixel DQN's Q-map network); the
experiments that train and plot them live apart (:mod:`supervised.classifiers`, ...). Nothing here
is imported by ``envs`` or by the bandit agents, so bandit comparisons never import torch.
"""
