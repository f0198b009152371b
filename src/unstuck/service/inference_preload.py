"""Imported by the process pool's fork server only: the model is trained there, once.

Every pool process is forked from the fork server and inherits the trained
model, so a pool that replaces a crashed one answers in milliseconds instead of
training again in each new process. Nothing else imports this module.
"""

from __future__ import annotations

from unstuck.service.inference import load_model

load_model()
