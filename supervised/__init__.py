"""Supervised models in PyTorch (regression → MLP/CNN → autoencoder/VAE → GAN → RNN → faces).

They also serve as the networks inside agents (DQN's Q-network). Nothing here is imported by
``envs`` or by the bandit agents, so bandit comparisons never import torch.
"""
