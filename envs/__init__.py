"""stemtwin.envs: Gymnasium environments over the twin.

All ``gymnasium.register`` calls will sit in this module.
"""
