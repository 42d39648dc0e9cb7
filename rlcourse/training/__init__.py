"""Training one off-policy learner on one env: evaluations, checkpoints, exact resume, curves.

By concern, each importable alone:

- :mod:`~rlcourse.training.learners`: the learners a training run can build (DQN, the per-pixel
  DQN), by name;
- :mod:`~rlcourse.training.settings`: what a run is asked to do, its defaults and their checks;
- :mod:`~rlcourse.training.callbacks`: the run loop's callbacks (episode log, greedy
  evaluations with ``checkpoint.pt``/``best.pt``, ``resume.pt`` checkpoints, TensorBoard losses);
- :mod:`~rlcourse.training.resume_format`: ``resume.pt``, written and read back checked;
- :mod:`~rlcourse.training.curves`: ``episodes.csv``, ``evaluations.csv``, ``training.png``,
  ``metrics.json``'s numbers and TensorBoard;
- :mod:`~rlcourse.training.train`: the entry points (:func:`~rlcourse.training.train.train_dqn`,
  :func:`~rlcourse.training.train.resume_dqn`, and the steps ``rlcourse train`` takes).
"""
