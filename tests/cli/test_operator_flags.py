"""``driftwarden run``'s Job policy flags reach the operator's settings."""

from __future__ import annotations

from driftwarden.cli.main import build_parser
from driftwarden.cli.operator_commands import operator_config


def test_allowlists_come_from_repeated_comma_separated_flags_and_the_environment(monkeypatch):
    monkeypatch.setenv("DRIFTWARDEN_ALLOWED_IMAGES", "env.example.com/*")
    monkeypatch.delenv("DRIFTWARDEN_ALLOWED_PRIORITY_CLASSES", raising=False)
    args = build_parser().parse_args(
        [
            "run",
            "--allowed-images=registry.example.com/ml/*, trainer:1.*",
            "--allowed-images",
            "other:2",
            "--allowed-priority-classes=batch-low",
        ]
    )
    config = operator_config(args)
    assert config.allowed_images == (
        "env.example.com/*",
        "registry.example.com/ml/*",
        "trainer:1.*",
        "other:2",
    )
    assert config.allowed_priority_classes == ("batch-low",)


def test_without_flags_nothing_beyond_the_operators_image_is_allowed(monkeypatch):
    monkeypatch.delenv("DRIFTWARDEN_ALLOWED_IMAGES", raising=False)
    monkeypatch.delenv("DRIFTWARDEN_ALLOWED_PRIORITY_CLASSES", raising=False)
    config = operator_config(build_parser().parse_args(["run", "--image", "op:1"]))
    assert (config.image, config.allowed_images, config.allowed_priority_classes) == (
        "op:1",
        (),
        (),
    )
