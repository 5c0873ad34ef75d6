"""Hydra set-up shared by the Hydra commands: the config folder, and the resolvers it uses."""

from __future__ import annotations

from omegaconf import OmegaConf

from src.core.paths import CONFIG_DIR, PROJECT_ROOT

__all__ = ["CONFIG_DIR"]

if not OmegaConf.has_resolver("project_root"):
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))
