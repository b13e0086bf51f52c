"""Checks of the deployment template that need no AWS: every event fixture the responder acts on matches one of
the template's EventBridge rules, and no ignored one matches any, judged by moto's EventBridge pattern matcher."""

from __future__ import annotations

import json
import pathlib
import unittest

import yaml
from moto.events.models import EventPattern

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"


class CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation's short-form intrinsics (!Ref, !GetAtt, ...) as plain values."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def template() -> dict:
    return yaml.load((ROOT / "infra" / "template.yaml").read_text(), Loader=CloudFormationLoader)


def rule_patterns() -> dict[str, EventPattern]:
    patterns = {}
    for name, resource in template()["Resources"].items():
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            if event["Type"] == "EventBridgeRule":
                patterns[f"{name}.{event_name}"] = EventPattern.load(json.dumps(event["Properties"]["Pattern"]))
    return patterns


def fixtures(kind: str) -> list[tuple[str, dict]]:
    index = json.loads((EVENTS / "index.json").read_text())
    return [(name, json.loads((EVENTS / name).read_text())) for name in index[kind]]


class EventRules(unittest.TestCase):
    def setUp(self):
        self.patterns = rule_patterns()
        self.assertGreaterEqual(len(self.patterns), 7, "the template's EventBridge rules were not found")

    def matching(self, event: dict) -> list[str]:
        return [name for name, pattern in self.patterns.items() if pattern.matches_event(event)]

    def test_every_event_the_responder_acts_on_matches_exactly_one_rule(self):
        for name, event in fixtures("onboarding") + fixtures("region"):
            with self.subTest(name):
                self.assertEqual(len(self.matching(event)), 1, f"{name} matches {self.matching(event)}")

    def test_ignored_events_match_no_rule(self):
        for name, event in fixtures("ignored"):
            with self.subTest(name):
                self.assertEqual(self.matching(event), [], name)

    def test_a_failed_create_account_call_matches_no_rule(self):
        (_, event), = [f for f in fixtures("onboarding") if f[0] == "create-account-call.json"]
        event["detail"]["errorCode"] = "AccessDeniedException"
        event["detail"]["responseElements"] = None
        self.assertEqual(self.matching(event), [])

    def test_every_rule_has_a_retry_policy_and_a_dead_letter_queue(self):
        for name, resource in template()["Resources"].items():
            for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
                with self.subTest(f"{name}.{event_name}"):
                    self.assertIn("RetryPolicy", event["Properties"])
                    self.assertIn("DeadLetterConfig", event["Properties"])


if __name__ == "__main__":
    unittest.main()
