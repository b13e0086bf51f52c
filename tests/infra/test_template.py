"""Checks of the deployment template that need no AWS: every event fixture the responder acts on matches one of
the template's EventBridge rules, and no ignored one matches any, judged by moto's EventBridge pattern matcher."""

from __future__ import annotations

import json
import pathlib
import re
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


def template(name: str = "template.yaml") -> dict:
    return yaml.load((ROOT / "infra" / name).read_text(), Loader=CloudFormationLoader)


def rule_patterns(name: str = "template.yaml") -> dict[str, EventPattern]:
    """Every EventBridge rule of a template: the functions' own (SAM events) and the account events' rules."""
    patterns = {}
    for name, resource in template(name)["Resources"].items():
        if resource["Type"] == "AWS::Events::Rule":
            patterns[name] = EventPattern.load(json.dumps(resource["Properties"]["EventPattern"]))
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            if event["Type"] == "EventBridgeRule":
                patterns[f"{name}.{event_name}"] = EventPattern.load(json.dumps(event["Properties"]["Pattern"]))
    return patterns


# The management account's default bus in the management stack's region, as infra/admin-role.yaml names it.
MANAGEMENT_BUS = {"!Sub": [
    "arn:${AWS::Partition}:events:${Region}:${ManagementAccountId}:event-bus/default",
    {"Region": {"!If": ["NamesManagementRegion", {"!Ref": "ManagementRegion"}, {"!Ref": "AWS::Region"}]}},
]}


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
        for name, event in fixtures("onboarding") + fixtures("moved") + fixtures("region"):
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
            for target in resource["Properties"].get("Targets", []) if resource["Type"] == "AWS::Events::Rule" else []:
                with self.subTest(name):
                    self.assertIn("RetryPolicy", target)
                    self.assertEqual(target["DeadLetterConfig"], {"Arn": {"!GetAtt": "DeadLetterQueue.Arn"}})
            for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
                if event["Type"] in ("EventBridgeRule", "Schedule"):
                    with self.subTest(f"{name}.{event_name}"):
                        self.assertIn("RetryPolicy", event["Properties"])
                        self.assertIn("DeadLetterConfig", event["Properties"])

    def test_the_bootstrap_runs_after_the_responder_is_updated(self):
        self.assertIn("ResponderFunction", template()["Resources"]["Bootstrap"]["DependsOn"])

    def test_account_events_go_through_the_queue_and_the_schedule_and_opt_ins_to_the_bootstrapper(self):
        resources = template()["Resources"]
        rules = {n: r for n, r in resources.items() if r["Type"] == "AWS::Events::Rule"}
        onboarding = fixtures("onboarding") + fixtures("moved")
        for name, event in onboarding:
            with self.subTest(name):
                (rule,) = [n for n in rules if EventPattern.load(json.dumps(rules[n]["Properties"]["EventPattern"])).matches_event(event)]
                (target,) = rules[rule]["Properties"]["Targets"]
                self.assertEqual(target["Arn"], {"!GetAtt": "AccountEventsQueue.Arn"})
        # the queue lets exactly these rules send to it, and gives a record five tries before its dead-letter queue
        policy = resources["AccountEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        self.assertEqual(policy["Principal"], {"Service": "events.amazonaws.com"})
        senders = policy["Condition"]["ArnEquals"]["aws:SourceArn"]
        self.assertEqual(sorted(s["!GetAtt"] for s in senders), sorted(f"{n}.Arn" for n in rules))
        queue = resources["AccountEventsQueue"]["Properties"]
        self.assertEqual(queue["RedrivePolicy"], {"deadLetterTargetArn": {"!GetAtt": "DeadLetterQueue.Arn"}, "maxReceiveCount": 5})
        responder = resources["ResponderFunction"]["Properties"]
        # "set the source queue's visibility timeout to at least six times the configuration timeout on your
        # function" (Lambda Developer Guide), and a record that failed comes back within 15 minutes
        self.assertGreaterEqual(queue["VisibilityTimeout"], 6 * responder["Timeout"])
        self.assertLessEqual(queue["VisibilityTimeout"], 15 * 60)
        mapping = responder["Events"]["AccountEvents"]
        self.assertEqual(mapping["Type"], "SQS")
        self.assertEqual(mapping["Properties"]["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        concurrency = mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        # "make sure that your function's reserved concurrency is greater than or equal to the total maximum
        # concurrency" (Lambda Developer Guide); one more for a direct invocation
        self.assertEqual(responder["ReservedConcurrentExecutions"], concurrency + 1)
        # no event waits for a batching window to fill by default; a window, when set, allows batches over 10
        parameters = template()["Parameters"]
        self.assertEqual(parameters["BatchingWindowSeconds"]["Default"], 0)
        self.assertEqual(mapping["Properties"]["MaximumBatchingWindowInSeconds"], {"!Ref": "BatchingWindowSeconds"})
        self.assertEqual(mapping["Properties"]["BatchSize"], {"!If": ["GathersBatches", 100, 10]})
        self.assertEqual(template()["Conditions"]["GathersBatches"], {"!Not": [{"!Equals": [{"!Ref": "BatchingWindowSeconds"}, "0"]}]})
        # the queue alone: the schedule and region opt-ins are the bootstrapper's, whose long runs cost it nothing
        self.assertEqual({e["Type"] for e in responder["Events"].values()}, {"SQS"})
        bootstrapper = resources["BootstrapperFunction"]["Properties"]
        self.assertEqual({e["Type"] for e in bootstrapper["Events"].values()}, {"EventBridgeRule", "Schedule"})

    def test_the_dead_letter_queue_lets_in_exactly_the_rules_that_dead_letter_to_it(self):
        resources = template()["Resources"]
        statement = resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        self.assertEqual(statement["Principal"], {"Service": "events.amazonaws.com"})
        senders = sorted(s["!GetAtt"] for s in statement["Condition"]["ArnEquals"]["aws:SourceArn"])
        dead_lettering = sorted(
            [f"{n}.Arn" for n, r in resources.items() if r["Type"] == "AWS::Events::Rule"]
            + [f"{f}{e}.Arn" for f, r in resources.items() for e, ev in r.get("Properties", {}).get("Events", {}).items()
               if ev["Type"] in ("EventBridgeRule", "Schedule")]
        )
        self.assertEqual(senders, dead_lettering)


class RegionOptInForwarding(unittest.TestCase):
    """The admin account's region opt-ins reach the management account's default bus, and only they."""

    def test_the_admin_account_forwards_its_enabled_regions_to_the_management_default_bus(self):
        resources = template("admin-role.yaml")["Resources"]
        rule = resources["RegionOptInForwarder"]["Properties"]
        pattern = EventPattern.load(json.dumps(rule["EventPattern"]))
        enabled = json.loads((EVENTS / "region-opt-in-enabled.json").read_text())
        disabled = json.loads((EVENTS / "region-opt-in-disabled.json").read_text())
        self.assertTrue(pattern.matches_event(enabled))
        self.assertFalse(pattern.matches_event(disabled))
        (target,) = rule["Targets"]
        self.assertEqual(target["Arn"], MANAGEMENT_BUS)
        self.assertEqual(target["RoleArn"], {"!GetAtt": "RegionOptInForwarderRole.Arn"})

    def test_the_management_bus_lets_in_only_the_admins_region_opt_in_events(self):
        policy = template()["Resources"]["AdminOptInEvents"]["Properties"]
        self.assertEqual(policy["EventBusName"], "default")
        statement = policy["Statement"]
        self.assertEqual(statement["Action"], "events:PutEvents")
        self.assertIn("${AdminAccountId}", statement["Principal"]["AWS"]["!Sub"])
        self.assertEqual(statement["Condition"]["ForAllValues:StringEquals"], {"events:source": ["aws.account"]})
        self.assertEqual(statement["Condition"]["StringEquals"], {"events:detail-type": "Region Opt-In Status Change"})
        # and the responder's rule takes such a forwarded event like its own
        forwarded = json.loads((EVENTS / "region-opt-in-enabled.json").read_text())
        forwarded["account"] = "222233334444"
        rules = rule_patterns()
        self.assertEqual([n for n, p in rules.items() if p.matches_event(forwarded)], ["BootstrapperFunction.RegionEnabled"])


class OneDeploy(unittest.TestCase):
    """The management stack deploys the admin role itself, unless told not to, and waits for it."""

    def setUp(self):
        self.template = template()
        self.resources = self.template["Resources"]

    def test_the_admin_role_is_a_service_managed_stack_set_of_the_admin_template_targeting_only_the_admin(self):
        stack_set = self.resources["AdminRoleStackSet"]
        self.assertEqual(stack_set["Condition"], "DeploysAdminRole")
        p = stack_set["Properties"]
        self.assertEqual(p["PermissionModel"], "SERVICE_MANAGED")
        self.assertEqual(p["AutoDeployment"], {"Enabled": False})
        self.assertEqual(p["TemplateURL"], "admin-role.yaml")
        self.assertTrue((ROOT / "infra" / p["TemplateURL"]).exists())
        self.assertIn("CAPABILITY_NAMED_IAM", p["Capabilities"])
        (group,) = p["StackInstancesGroup"]
        targets = group["DeploymentTargets"]
        self.assertEqual(targets["Accounts"], [{"!Ref": "AdminAccountId"}])
        self.assertEqual(targets["AccountFilterType"], "INTERSECTION")
        # this region, and those the admin's GuardDuty calls are forwarded from (TamperEvents checks which)
        self.assertEqual(group["Regions"]["!If"][0], "ForwardsTamperFromOtherRegions")
        self.assertEqual(group["Regions"]["!If"][2], [{"!Ref": "AWS::Region"}])
        # the role it creates trusts exactly this stack's function roles, by the same names
        params = {x["ParameterKey"]: x["ParameterValue"] for x in p["Parameters"]}
        # and may read exactly the bucket the functions export findings to
        exported = template()["Globals"]["Function"]["Environment"]["Variables"]["GUARDDUTY_FINDINGS_DESTINATION"]
        self.assertEqual(params, {
            "ManagementAccountId": {"!Ref": "AWS::AccountId"},
            "RoleName": {"!Ref": "AdminRoleName"},
            "FunctionRoleNamePrefix": {"!Ref": "RoleNamePrefix"},
            "OperatorRoleArns": {"!Ref": "OperatorRoleArns"},
            "FindingsDestination": exported,
            # every instance forwards to this region's default bus
            "ManagementRegion": {"!Ref": "AWS::Region"},
        })
        admin_parameters = set(template("admin-role.yaml")["Parameters"])
        self.assertEqual(set(params), admin_parameters)

    def test_the_findings_bucket_goes_to_the_admin_account_with_the_key_made_here(self):
        resources = template()["Resources"]
        key = resources["FindingsKeyStack"]["Properties"]
        self.assertEqual(key["TemplateURL"], "findings-bucket.yaml")
        self.assertEqual(key["Parameters"]["Create"], "key")
        bucket = resources["FindingsBucketStackSet"]["Properties"]
        self.assertEqual(bucket["PermissionModel"], "SERVICE_MANAGED")
        params = {x["ParameterKey"]: x["ParameterValue"] for x in bucket["Parameters"]}
        self.assertEqual(params["Create"], "bucket")
        self.assertEqual(params["KmsKeyArn"], {"!GetAtt": "FindingsKeyStack.Outputs.KmsKeyArn"})
        (group,) = bucket["StackInstancesGroup"]
        self.assertEqual(group["DeploymentTargets"]["Accounts"], [{"!Ref": "AdminAccountId"}])
        # the functions export to that bucket, under the name the stack set gives it, with that key
        env = template()["Globals"]["Function"]["Environment"]["Variables"]
        destination = env["GUARDDUTY_FINDINGS_DESTINATION"]["!If"]
        self.assertEqual(destination[0], "DeploysFindingsBucket")
        self.assertEqual(destination[1]["!Sub"], "arn:${AWS::Partition}:s3:::" + params["BucketName"]["!Sub"])
        self.assertEqual(env["GUARDDUTY_FINDINGS_KMS_KEY"]["!If"][1], params["KmsKeyArn"])

    def test_the_admin_role_trusts_the_two_function_roles_and_only_the_operators_given(self):
        resources = template("admin-role.yaml")["Resources"]
        (statement,) = resources["AdminRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(statement["Principal"], {"AWS": {"!Sub": "arn:${AWS::Partition}:iam::${ManagementAccountId}:root"}})
        when, with_operators, without = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]["!If"]
        self.assertEqual(when, "HasOperators")
        functions = [
            {"!Sub": "arn:${AWS::Partition}:iam::${ManagementAccountId}:role/${FunctionRoleNamePrefix}-bootstrapper"},
            {"!Sub": "arn:${AWS::Partition}:iam::${ManagementAccountId}:role/${FunctionRoleNamePrefix}-responder"},
        ]
        self.assertEqual(without, functions)
        self.assertEqual(with_operators, {"!Split": [",", {"!Join": [",", functions + [{"!Ref": "OperatorRoleArns"}]]}]})

    def test_the_bootstrap_waits_for_the_admin_role_where_this_stack_deploys_it(self):
        props = self.resources["Bootstrap"]["Properties"]
        self.assertEqual(props["AdminRoleStackSet"],
                         {"!If": ["DeploysAdminRole", {"!Ref": "AdminRoleStackSet"}, {"!Ref": "AWS::NoValue"}]})
        self.assertEqual(self.template["Conditions"]["DeploysAdminRole"], {"!Equals": [{"!Ref": "DeployAdminRole"}, "true"]})

    def test_the_dashboard_body_is_json_once_substituted(self):
        body, variables = self.resources["Dashboard"]["Properties"]["DashboardBody"]["!Sub"]
        substituted = body
        for name in ["AWS::Region", "ResponderLogGroup", "BootstrapperLogGroup", "ResponderFunction",
                     "BootstrapperFunction", "DeadLetterQueue.QueueName", "AccountEventsQueue.QueueName"]:
            substituted = substituted.replace("${%s}" % name, "x")
        substituted = substituted.replace("${Period}", "21600")
        self.assertNotIn("${", substituted)
        dashboard = json.loads(substituted)
        titles = [w["properties"]["title"] for w in dashboard["widgets"]]
        for wanted in ["Coverage", "not protected", "Unprotected accounts", "Onboarding", "Drift", "dead letters",
                       "how GuardDuty is enabled"]:
            self.assertTrue(any(wanted in t for t in titles), f"{wanted} not in {titles}")
        # the runs' mode (api or policy) from their summary lines, and how long account events wait in the queue
        queries = [w["properties"].get("query", "") for w in dashboard["widgets"]]
        self.assertTrue(any("enablement" in q and "'summary'" in q for q in queries), queries)
        self.assertIn("${AccountEventsQueue.QueueName}", body)
        self.assertIn("Period", variables)

    def test_the_coverage_alarm_spans_two_scheduled_runs(self):
        alarm = self.resources["CoverageBelowFullAlarm"]["Properties"]
        self.assertEqual((alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]), (2, 2))
        self.assertEqual(alarm["Period"], {"!FindInMap": ["SelfHeal", {"!Ref": "SelfHealHours"}, "Seconds"]})
        schedule = self.resources["BootstrapperFunction"]["Properties"]["Events"]["SelfHeal"]["Properties"]["Schedule"]
        self.assertEqual(schedule, {"!FindInMap": ["SelfHeal", {"!Ref": "SelfHealHours"}, "Schedule"]})
        for hours, entry in self.template["Mappings"]["SelfHeal"].items():
            self.assertEqual(entry["Seconds"], int(hours) * 3600)
        # and no data (no full reconcile finished) is not taken as full coverage
        self.assertEqual(alarm["TreatMissingData"], "breaching")
        # and it watches the function that runs the schedule
        self.assertEqual(alarm["Dimensions"], [{"Name": "Function", "Value": "bootstrapper"}])

    def test_cloudformation_waits_for_the_bootstrap_as_long_as_it_takes_and_a_failed_invocation_is_kept(self):
        # CloudFormation invokes the function asynchronously and waits ServiceTimeout for the answer (1 to 3600 s):
        # the run and one retry a minute later, each within the function's timeout
        timeout = template()["Globals"]["Function"]["Timeout"]
        bootstrapper = self.resources["BootstrapperFunction"]["Properties"]
        config = bootstrapper["EventInvokeConfig"]
        attempts = 1 + config["MaximumRetryAttempts"]
        service_timeout = int(self.resources["Bootstrap"]["Properties"]["ServiceTimeout"])
        self.assertGreaterEqual(service_timeout, attempts * timeout + 60 * (attempts - 1))
        self.assertLessEqual(service_timeout, 3600)
        self.assertEqual(config["DestinationConfig"]["OnFailure"],
                         {"Type": "SQS", "Destination": {"!GetAtt": "DeadLetterQueue.Arn"}})

    def test_the_findings_bucket_name_is_valid_for_every_allowed_prefix_and_region(self):
        # S3's general purpose bucket naming rules: 3 to 63 characters, lowercase letters, digits, hyphens and dots,
        # a letter or digit at each end
        import re
        pattern = self.template["Parameters"]["RoleNamePrefix"]["AllowedPattern"]
        name = self.resources["FindingsBucketStackSet"]["Properties"]["Parameters"]
        (bucket,) = [p["ParameterValue"]["!Sub"] for p in name if p["ParameterKey"] == "BucketName"]
        regions = json.loads((ROOT / "infra" / "regions.json").read_text())
        longest = max(regions["default"] + regions["opt_in"] + ["ap-southeast-7", "us-gov-west-1", "cn-northwest-1"], key=len)
        for prefix in ["a", "guardduty-enabler", "z" * 26, "a" + "-1" * 12 + "b"]:
            with self.subTest(prefix):
                self.assertRegex(prefix, pattern)
                made = bucket.replace("${RoleNamePrefix}", prefix).replace("${AdminAccountId}", "123456789012")
                made = made.replace("${AWS::Region}", longest)
                self.assertLessEqual(len(made), 63, made)
                self.assertRegex(made, r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
        for refused in ["Guard", "a_b", "a.b", "-a", "a-", "z" * 27, "a+b"]:
            with self.subTest(refused):
                self.assertIsNone(re.fullmatch(pattern, refused), refused)


class EvidenceRecord(unittest.TestCase):
    """The schedule keeps its evidence record where it is told, or in the findings bucket this stack deploys, and may
    write there only under evidence/; nothing is granted when no record is kept."""

    def setUp(self):
        self.template = template()
        self.resources = self.template["Resources"]

    def condition(self, name: str, parameters: dict) -> bool:
        """Evaluates a condition of the template for the given parameter values (the defaults otherwise)."""
        defaults = {k: str(v.get("Default", "")) for k, v in self.template["Parameters"].items()}
        values = {**defaults, **parameters}

        def ev(node):
            if isinstance(node, dict):
                (fn, arg), = node.items()
                if fn == "!Equals":
                    return ev(arg[0]) == ev(arg[1])
                if fn == "!Not":
                    return not ev(arg[0])
                if fn == "!And":
                    return all(ev(a) for a in arg)
                if fn == "!Or":
                    return any(ev(a) for a in arg)
                if fn == "!Condition":
                    return ev(self.template["Conditions"][arg])
                if fn == "!Ref":
                    return values[arg]
                raise AssertionError(f"unexpected {fn}")
            return node

        return ev(self.template["Conditions"][name])

    def statement(self, sid: str) -> tuple[str, dict]:
        policies = self.resources["BootstrapperRole"]["Properties"]["Policies"]
        for policy in policies:
            for st in policy["PolicyDocument"]["Statement"]:
                if "!If" in st and st["!If"][1].get("Sid") == sid:
                    self.assertEqual(st["!If"][2], {"!Ref": "AWS::NoValue"})
                    return st["!If"][0], st["!If"][1]
        raise AssertionError(f"no statement {sid}")

    def test_a_record_is_kept_only_where_a_bucket_is_named_or_deployed(self):
        for params, keeps, in_findings, key in [
            ({}, False, False, False),
            ({"FindingsDestination": "arn:aws:s3:::theirs", "FindingsKmsKey": "arn:aws:kms:us-east-1:1:key/k"},
             False, False, False),
            ({"EvidenceBucket": "org-evidence"}, True, False, False),
            ({"EvidenceBucket": "org-evidence", "EvidenceKmsKey": "arn:aws:kms:us-east-1:111111111111:key/k"},
             True, False, True),
            ({"DeployFindingsBucket": "true"}, True, True, True),
            ({"DeployFindingsBucket": "true", "EvidenceBucket": "org-evidence"}, True, False, False),
        ]:
            with self.subTest(params):
                self.assertEqual(self.condition("KeepsEvidence", params), keeps)
                self.assertEqual(self.condition("KeepsEvidenceInFindingsBucket", params), in_findings)
                self.assertEqual(self.condition("EncryptsEvidenceWithKey", params), key)

    def test_the_bootstrapper_may_only_put_objects_under_evidence_of_the_bucket_in_its_variable(self):
        condition, statement = self.statement("EvidenceRecord")
        self.assertEqual(condition, "KeepsEvidence")
        self.assertEqual(statement["Action"], "s3:PutObject")
        named, findings = statement["Resource"]["!If"][1:]
        env = self.template["Globals"]["Function"]["Environment"]["Variables"]["GUARDDUTY_EVIDENCE_BUCKET"]["!If"]
        self.assertEqual(env[0], "NamesEvidenceBucket")
        self.assertEqual(named["!Sub"], "arn:${AWS::Partition}:s3:::${EvidenceBucket}/evidence/*")
        deployed = env[2]["!If"][1]["!Sub"]
        self.assertEqual(findings["!Sub"], "arn:${AWS::Partition}:s3:::" + deployed + "/evidence/*")
        stack_set = self.resources["FindingsBucketStackSet"]["Properties"]["Parameters"]
        params = {x["ParameterKey"]: x["ParameterValue"] for x in stack_set}
        self.assertEqual(params["BucketName"]["!Sub"], deployed)
        self.assertEqual(params["RecordWriterArn"]["!If"],
                         ["KeepsEvidenceInFindingsBucket", {"!GetAtt": "BootstrapperRole.Arn"}, ""])
        condition, key = self.statement("EvidenceRecordKey")
        self.assertEqual((condition, key["Action"]), ("EncryptsEvidenceWithKey", "kms:GenerateDataKey"))
        self.assertEqual(key["Resource"]["!If"][2], {"!GetAtt": "FindingsKeyStack.Outputs.KmsKeyArn"})

    def test_the_findings_bucket_lets_the_writer_put_objects_under_evidence_only(self):
        bucket = template("findings-bucket.yaml")
        self.assertEqual(bucket["Conditions"]["KeepsRecord"], {"!Not": [{"!Equals": [{"!Ref": "RecordWriterArn"}, ""]}]})
        statements = bucket["Resources"]["FindingsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        (writer,) = [s["!If"] for s in statements if "!If" in s and s["!If"][1].get("Sid") == "EvidenceRecordWriter"]
        self.assertEqual(writer[0], "KeepsRecord")
        self.assertEqual(writer[1]["Principal"], {"AWS": {"!Ref": "RecordWriterArn"}})
        self.assertEqual((writer[1]["Action"], writer[1]["Resource"]),
                         ("s3:PutObject", {"!Sub": "${FindingsBucket.Arn}/evidence/*"}))

    def test_a_run_that_keeps_no_record_raises_an_alarm(self):
        alarm = self.resources["EvidenceRecordAlarm"]
        self.assertEqual(alarm["Condition"], "KeepsEvidence")
        p = alarm["Properties"]
        self.assertEqual((p["MetricName"], p["ComparisonOperator"], p["Threshold"]),
                         ("EvidenceRecorded", "LessThanThreshold", 1))
        self.assertEqual(p["Dimensions"], [{"Name": "Function", "Value": "bootstrapper"}])


def resolve(node, doc: dict, values: dict):
    """Evaluates the intrinsics these tests meet (Ref, If, Condition, Equals, Not, And, Or, Join, Split, Sub with a
    map) in a template `doc` for the given parameter and pseudo-parameter values (the defaults otherwise; a
    CommaDelimitedList as a list)."""
    parameters = doc.get("Parameters", {})
    defaults = {k: str(v.get("Default", "")) for k, v in parameters.items()}
    given = {**defaults, **values}

    def ref(name):
        value = given[name]
        if parameters.get(name, {}).get("Type") == "CommaDelimitedList" and isinstance(value, str):
            return value.split(",")
        return value

    def ev(n):
        if isinstance(n, list):
            return [ev(x) for x in n]
        if not isinstance(n, dict):
            return n
        if len(n) != 1 or not next(iter(n)).startswith("!"):
            return {k: ev(v) for k, v in n.items()}
        (fn, arg), = n.items()
        if fn == "!Ref":
            return ref(arg)
        if fn == "!Condition":
            return ev(doc["Conditions"][arg])
        if fn == "!If":
            return ev(arg[1]) if ev(doc["Conditions"][arg[0]]) else ev(arg[2])
        if fn == "!Equals":
            return ev(arg[0]) == ev(arg[1])
        if fn == "!Not":
            return not ev(arg[0])
        if fn == "!And":
            return all(ev(a) for a in arg)
        if fn == "!Or":
            return any(ev(a) for a in arg)
        if fn == "!Contains":
            return ev(arg[1]) in ev(arg[0])
        if fn == "!Join":
            return arg[0].join(ev(arg[1]))
        if fn == "!Split":
            return ev(arg[1]).split(arg[0])
        if fn == "!Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], {k: ev(v) for k, v in arg[1].items()})
            for name, value in {**given, **variables}.items():
                text = text.replace("${%s}" % name, value if isinstance(value, str) else ",".join(value))
            return text
        raise AssertionError(f"unexpected {fn}")

    return ev(node)


def bus_policy_allows(statement: dict, bus: str, account: str, source: str, detail_type: str) -> bool:
    """Whether an EventBridge bus policy statement (resolved) lets `account` put an event of that source and
    detail-type on `bus` (the IAM condition operators it uses only)."""
    if statement["Effect"] != "Allow" or statement["Action"] != "events:PutEvents" or statement["Resource"] != bus:
        return False
    if statement["Principal"] != {"AWS": f"arn:aws:iam::{account}:root"}:
        return False
    event = {"events:source": [source], "events:detail-type": [detail_type]}
    for operator, keys in statement.get("Condition", {}).items():
        for key, wanted in keys.items():
            wanted = wanted if isinstance(wanted, list) else [wanted]
            if operator == "ForAllValues:StringEquals":
                ok = all(v in wanted for v in event[key])
            elif operator == "StringEquals":
                ok = any(v in wanted for v in event[key])
            else:
                raise AssertionError(f"unexpected operator {operator}")
            if not ok:
                return False
    return True


class TamperEvents(unittest.TestCase):
    """The calls that weaken GuardDuty reach the responder's queue, from the management account and (forwarded) the
    delegated admin account, in every forwarded region; no read-only call ever does."""

    MANAGEMENT, ADMIN, OTHER = "111122223333", "777788889999", "444455556666"
    STACK_REGION = "us-east-1"

    def setUp(self):
        self.template = template()
        self.resources = self.template["Resources"]
        self.admin = template("admin-role.yaml")
        self.patterns = rule_patterns()
        self.admin_patterns = rule_patterns("admin-role.yaml")

    def matching(self, patterns: dict[str, EventPattern], event: dict) -> list[str]:
        return [name for name, pattern in patterns.items() if pattern.matches_event(event)]

    def test_the_functions_know_their_own_roles_so_that_a_repair_never_answers_itself(self):
        own = self.template["Globals"]["Function"]["Environment"]["Variables"]["TOOL_ROLE_ARNS"]["!Sub"]
        arns = own.split(",")
        names = sorted(self.resources[r]["Properties"]["RoleName"]["!Sub"] for r in ("BootstrapperRole", "ResponderRole"))
        self.assertEqual(
            sorted(arn.split(":role/")[1] for arn in arns), names, "TOOL_ROLE_ARNS must name exactly the two roles"
        )
        for arn in arns:
            self.assertTrue(arn.startswith("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"), arn)

    def test_the_count_of_tamper_repairs_is_one_table_both_functions_share_keyed_as_the_code_writes_it(self):
        variables = self.template["Globals"]["Function"]["Environment"]["Variables"]
        self.assertEqual(variables["TAMPER_LEDGER"], {"!Ref": "TamperLedgerTable"})
        table = self.resources["TamperLedgerTable"]["Properties"]
        self.assertEqual(table["KeySchema"], [{"AttributeName": "id", "KeyType": "HASH"}])
        self.assertEqual(table["AttributeDefinitions"], [{"AttributeName": "id", "AttributeType": "S"}])
        self.assertEqual(table["TimeToLiveSpecification"], {"AttributeName": "expires", "Enabled": True})
        source = (ROOT / "shared/src/aws/ledger.rs").read_text()
        self.assertIn('.key("id",', source)
        self.assertIn('"#expires".into(), "expires".into()', source)
        # the responder may only count (UpdateItem), the bootstrapper only read the held keys and release them
        for role, sid, actions in (("ResponderRole", "TamperRepairCount", "dynamodb:UpdateItem"),
                                   ("BootstrapperRole", "TamperRepairsHeld", ["dynamodb:Scan", "dynamodb:DeleteItem"])):
            statements = [st for p in self.resources[role]["Properties"]["Policies"]
                          for st in p["PolicyDocument"]["Statement"] if isinstance(st, dict)]
            granted = [st for st in statements if "dynamodb" in str(st.get("Action"))]
            self.assertEqual([(st["Sid"], st["Action"], st["Resource"]) for st in granted],
                             [(sid, actions, {"!GetAtt": "TamperLedgerTable.Arn"})], role)
        # a held key stays raised between scheduled runs, which come hours apart
        alarm = self.resources["TamperFlappingAlarm"]["Properties"]
        self.assertEqual((alarm["MetricName"], alarm["Dimensions"]),
                         ("TamperFlapping", [{"Name": "Function", "Value": "bootstrapper"}]))
        self.assertEqual(alarm["TreatMissingData"], "ignore")

    def test_the_management_forwarders_are_granted_on_the_one_rule_the_bootstrapper_is_told_and_send_here_only(self):
        bootstrapper = self.resources["BootstrapperFunction"]["Properties"]["Environment"]["Variables"]
        name = bootstrapper["TAMPER_FORWARDER"]["!Sub"]
        self.assertEqual(bootstrapper["TAMPER_FORWARD_ROLE_ARN"], {"!GetAtt": "TamperForwarderRole.Arn"})
        (policy,) = [p for p in self.resources["BootstrapperRole"]["Properties"]["Policies"]
                     if p["PolicyName"] == "bootstrapper"]
        by_sid = {st["Sid"]: st for st in policy["PolicyDocument"]["Statement"] if isinstance(st, dict) and "Sid" in st}
        # its rule, in any region (the governed ones), of this account only; and no other rule
        self.assertEqual(
            by_sid["TamperForwarders"]["Resource"],
            {"!Sub": f"arn:${{AWS::Partition}}:events:*:${{AWS::AccountId}}:rule/{name}"},
        )
        # the role passed to EventBridge only, and it may only put events on this region's default bus
        passing = by_sid["TamperForwarderRole"]
        self.assertEqual(passing["Action"], "iam:PassRole")
        self.assertEqual(passing["Resource"], {"!GetAtt": "TamperForwarderRole.Arn"})
        self.assertEqual(passing["Condition"], {"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}})
        role = self.resources["TamperForwarderRole"]["Properties"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(trust["Condition"], {"StringEquals": {"aws:SourceAccount": {"!Ref": "AWS::AccountId"}}})
        (forward,) = role["Policies"]
        (statement,) = forward["PolicyDocument"]["Statement"]
        self.assertEqual(statement["Action"], "events:PutEvents")
        self.assertEqual(
            statement["Resource"], {"!Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}
        )

    def test_the_samples_have_the_shape_of_a_cloudtrail_api_call_as_eventbridge_delivers_it(self):
        envelope = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
        record = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
                  "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID", "eventID",
                  "readOnly", "eventType", "managementEvent", "recipientAccountId", "eventCategory"}
        samples = fixtures("tamper") + [f for f in fixtures("ignored") if f[0].startswith("readonly-")]
        self.assertEqual(len(samples), 30)
        for name, event in samples:
            with self.subTest(name):
                self.assertLessEqual(envelope, set(event))
                self.assertEqual(event["detail-type"], "AWS API Call via CloudTrail")
                detail = event["detail"]
                self.assertLessEqual(record, set(detail))
                service = event["source"].removeprefix("aws.")
                self.assertIn(service, ("guardduty", "organizations"))
                self.assertEqual(detail["eventSource"], f"{service}.amazonaws.com")
                self.assertEqual((detail["eventType"], detail["managementEvent"], detail["eventCategory"]),
                                 ("AwsApiCall", True, "Management"))
                # delivered to the caller's account, in the region of the call
                self.assertEqual(detail["recipientAccountId"], event["account"])
                self.assertEqual(detail["userIdentity"]["accountId"], event["account"])
                self.assertEqual(detail["awsRegion"], event["region"])
                self.assertIn(event["account"], (self.MANAGEMENT, self.ADMIN))
                issuer = detail["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
                self.assertTrue(issuer.startswith(f"arn:aws:iam::{event['account']}:role/"), issuer)
                self.assertEqual(detail["readOnly"], name.startswith("readonly-"))
                # the file is named after its call
                words = "-".join(w.lower() for w in re.findall(r"IP|AWS|[A-Z][a-z]*", detail["eventName"]))
                self.assertIn(f"-{service}-{words}", name)
                if service == "organizations":
                    # Organizations' calls are logged in its home region, by the management account
                    self.assertEqual((event["region"], event["account"]), (self.STACK_REGION, self.MANAGEMENT))
                if event["account"] == self.MANAGEMENT:
                    # the management account's own calls reach the rules in the stack's region only
                    self.assertEqual(event["region"], self.STACK_REGION)

    def test_every_tamper_sample_matches_exactly_one_rule_and_it_sends_to_the_account_events_queue(self):
        samples = fixtures("tamper")
        self.assertTrue(any("errorCode" in e["detail"] for _, e in samples), "no sample of a refused call")
        for name, event in samples:
            with self.subTest(name):
                matched = self.matching(self.patterns, event)
                self.assertEqual(len(matched), 1, f"{name} matches {matched}")
                (target,) = self.resources[matched[0]]["Properties"]["Targets"]
                self.assertEqual(target["Arn"], {"!GetAtt": "AccountEventsQueue.Arn"})
                self.assertEqual(target["RetryPolicy"], {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400})
                self.assertEqual(target["DeadLetterConfig"], {"Arn": {"!GetAtt": "DeadLetterQueue.Arn"}})

    def test_the_rules_name_exactly_the_calls_of_the_samples_and_match_no_prefix(self):
        names = {e["detail"]["eventName"] for _, e in fixtures("tamper")}
        rules = [("template.yaml", self.resources["GuardDutyTamperRule"]),
                 ("template.yaml", self.resources["OrganizationsTamperRule"]),
                 ("admin-role.yaml", self.admin["Resources"]["GuardDutyTamperForwarder"])]
        named = {}
        for where, rule in rules:
            pattern = rule["Properties"]["EventPattern"]
            # plain strings only: no prefix, suffix, wildcard or anything-but that could let a read-only call in
            self.assertTrue(all(isinstance(n, str) for n in pattern["detail"]["eventName"]), where)
            self.assertEqual(len(set(pattern["detail"]["eventName"])), len(pattern["detail"]["eventName"]), where)
            named.setdefault(pattern["source"][0], set()).update(pattern["detail"]["eventName"])
            # a rule in the default state does not receive read-only management events at all
            self.assertIn(rule["Properties"].get("State", "ENABLED"), ("ENABLED",), where)
        self.assertEqual(named["aws.guardduty"] | named["aws.organizations"], names)
        self.assertEqual(len(named["aws.guardduty"]), 18)
        self.assertEqual(len(named["aws.organizations"]), 6)
        # and the admin account forwards what the management account's rule takes
        self.assertEqual(self.admin["Resources"]["GuardDutyTamperForwarder"]["Properties"]["EventPattern"],
                         self.resources["GuardDutyTamperRule"]["Properties"]["EventPattern"])

    def test_no_read_only_call_matches_any_rule_of_either_template(self):
        read_only = [f for f in fixtures("ignored") if f[1].get("detail", {}).get("readOnly") is True]
        self.assertEqual(len(read_only), 5)
        for name, event in read_only:
            with self.subTest(name):
                self.assertEqual(self.matching(self.patterns, event), [])
                self.assertEqual(self.matching(self.admin_patterns, event), [])
                # nor does the same call under the name of a write
                for tamper_name, tamper in fixtures("tamper"):
                    if tamper["source"] == event["source"]:
                        renamed = json.loads(json.dumps(tamper))
                        renamed["detail"]["eventName"] = event["detail"]["eventName"]
                        self.assertEqual(self.matching(self.patterns, renamed), [], tamper_name)
                        break

    def test_the_admin_forwards_every_guardduty_tamper_call_and_no_organizations_one_to_the_management_bus(self):
        resources = self.admin["Resources"]
        forwarder = resources["GuardDutyTamperForwarder"]["Properties"]
        pattern = EventPattern.load(json.dumps(forwarder["EventPattern"]))
        for name, event in fixtures("tamper"):
            with self.subTest(name):
                # as the admin account's bus sees it, wherever the call was made
                event["account"] = event["detail"]["recipientAccountId"] = self.ADMIN
                self.assertEqual(pattern.matches_event(event), event["source"] == "aws.guardduty")
        for name, event in fixtures("onboarding") + fixtures("region") + fixtures("ignored"):
            with self.subTest(name):
                self.assertFalse(pattern.matches_event(event), name)
        (target,) = forwarder["Targets"]
        self.assertEqual(target["Arn"], MANAGEMENT_BUS)
        self.assertEqual(target["RoleArn"], {"!GetAtt": "RegionOptInForwarderRole.Arn"})
        # an instance in another region forwards to the management stack's region, one hop
        for region, management_region, bus_region in [("us-east-1", "", "us-east-1"),
                                                      ("eu-west-1", "us-east-1", "us-east-1"),
                                                      ("us-east-1", "us-east-1", "us-east-1")]:
            with self.subTest(region=region, management_region=management_region):
                values = {"AWS::Region": region, "AWS::Partition": "aws", "ManagementAccountId": self.MANAGEMENT,
                          "ManagementRegion": management_region}
                bus = f"arn:aws:events:{bus_region}:{self.MANAGEMENT}:event-bus/default"
                self.assertEqual(resolve(target["Arn"], self.admin, values), bus)
                # and the role may put events on that bus only
                (policy,) = resources["RegionOptInForwarderRole"]["Properties"]["Policies"]
                (statement,) = policy["PolicyDocument"]["Statement"]
                self.assertEqual((statement["Effect"], statement["Action"]), ("Allow", "events:PutEvents"))
                self.assertEqual(resolve(statement["Resource"], self.admin, values), bus)
                self.assertNotIn("*", resolve(statement["Resource"], self.admin, values))

    def test_the_role_and_the_opt_in_forwarder_are_made_in_the_management_region_only(self):
        resources = self.admin["Resources"]
        for name in ["AdminRole", "RegionOptInForwarder"]:
            self.assertEqual(resources[name].get("Condition"), "InManagementRegion", name)
        self.assertEqual(self.admin["Outputs"]["AdminRoleArn"].get("Condition"), "InManagementRegion")
        # the GuardDuty forwarder and the role it sends with are in every instance
        for name in ["GuardDutyTamperForwarder", "RegionOptInForwarderRole"]:
            self.assertNotIn("Condition", resources[name], name)
            self.assertNotIn("RoleName", resources[name]["Properties"], name)
        for region, management_region, here in [("us-east-1", "", True), ("us-east-1", "us-east-1", True),
                                                ("eu-west-1", "us-east-1", False)]:
            with self.subTest(region=region, management_region=management_region):
                values = {"AWS::Region": region, "ManagementRegion": management_region}
                self.assertEqual(resolve({"!Condition": "InManagementRegion"}, self.admin, values), here)

    def test_the_management_bus_lets_in_the_admins_guardduty_api_calls_and_nothing_wider(self):
        values = {"AWS::Region": self.STACK_REGION, "AWS::Partition": "aws", "AWS::AccountId": self.MANAGEMENT,
                  "AdminAccountId": self.ADMIN, "RoleNamePrefix": "guardduty-enabler"}
        policy = resolve(self.resources["AdminGuardDutyCallEvents"]["Properties"], self.template, values)
        self.assertEqual(policy["EventBusName"], "default")
        self.assertEqual(policy["StatementId"], policy["Statement"]["Sid"])
        statement = policy["Statement"]
        bus = f"arn:aws:events:{self.STACK_REGION}:{self.MANAGEMENT}:event-bus/default"
        call = "AWS API Call via CloudTrail"
        self.assertTrue(bus_policy_allows(statement, bus, self.ADMIN, "aws.guardduty", call))
        for account, source, detail_type in [
            (self.OTHER, "aws.guardduty", call),                  # another account
            (self.ADMIN, "aws.organizations", call),              # another service's calls
            (self.ADMIN, "aws.guardduty", "GuardDuty Finding"),   # GuardDuty's other events
            (self.ADMIN, "aws.cloudtrail", call),
            (self.ADMIN, "custom.source", call),
        ]:
            with self.subTest(account=account, source=source, detail_type=detail_type):
                self.assertFalse(bus_policy_allows(statement, bus, account, source, detail_type))
        # each forwarded sample is let in, as the admin's
        for name, event in fixtures("tamper"):
            if event["source"] == "aws.guardduty":
                with self.subTest(name):
                    self.assertTrue(bus_policy_allows(statement, bus, self.ADMIN, event["source"], event["detail-type"]))
        # and the opt-in statement beside it is a separate one
        opt_in = resolve(self.resources["AdminOptInEvents"]["Properties"], self.template, values)
        self.assertNotEqual(opt_in["StatementId"], policy["StatementId"])
        self.assertFalse(bus_policy_allows(opt_in["Statement"], bus, self.ADMIN, "aws.guardduty", call))

    def test_the_admin_stack_set_deploys_to_the_stack_region_and_the_tamper_forwarding_regions(self):
        stack_set = self.resources["AdminRoleStackSet"]["Properties"]
        (group,) = stack_set["StackInstancesGroup"]
        for forwarding, regions in [
            ("", ["us-east-1"]),
            ("eu-west-1", ["us-east-1", "eu-west-1"]),
            ("eu-west-1,ap-southeast-2,af-south-1", ["us-east-1", "eu-west-1", "ap-southeast-2", "af-south-1"]),
        ]:
            with self.subTest(forwarding):
                values = {"AWS::Region": "us-east-1", "TamperForwardingRegions": forwarding}
                self.assertEqual(resolve(group["Regions"], self.template, values), regions)
        params = {p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Parameters"]}
        self.assertEqual(params["ManagementRegion"], {"!Ref": "AWS::Region"})
        parameter = self.template["Parameters"]["TamperForwardingRegions"]
        self.assertEqual((parameter["Type"], parameter["Default"]), ("CommaDelimitedList", ""))
        for good in ["", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]:
            self.assertRegex(good, parameter["AllowedPattern"])
        for bad in ["eu-west-1,", "EU-WEST-1", "eu west 1", "*"]:
            self.assertIsNone(re.fullmatch(parameter["AllowedPattern"].strip("^$"), bad), bad)
        # the stack's own region is not named twice
        (assertion,) = self.template["Rules"]["TamperForwardingRegionsAreOthers"]["Assertions"]
        for forwarding, accepted in [("", True), ("eu-west-1", True), ("eu-west-1,us-east-1", False)]:
            with self.subTest(forwarding=forwarding):
                values = {"AWS::Region": "us-east-1", "TamperForwardingRegions": forwarding}
                self.assertEqual(resolve(assertion["Assert"], self.template, values), accepted)


class Documented(unittest.TestCase):
    """Every parameter of the template is in the README's parameters table, with the variable it sets."""

    def test_every_parameter_is_in_the_readme_with_its_variable(self):
        readme = (ROOT / "README.md").read_text()
        rows = {}
        for line in readme.split("### Parameters", 1)[1].split("\n"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 4 and cells[0].startswith("`"):
                rows[cells[0].strip("`")] = cells[1].strip("`")
        t = template()
        env = t["Globals"]["Function"]["Environment"]["Variables"]
        for name in t["Parameters"]:
            with self.subTest(name):
                self.assertIn(name, rows, f"{name} is not in the README's parameters table")
                variables = [v for v, value in env.items() if f"'{name}'" in str(value) or f'"{name}"' in json.dumps(value)]
                if variables:
                    self.assertEqual(rows[name], variables[0], name)
        self.assertEqual(sorted(rows), sorted(t["Parameters"]), "the table names a parameter the template lacks")

    def test_the_stack_is_refused_outside_the_organizations_home_region(self):
        (assertion,) = template()["Rules"]["InTheOrganizationsHomeRegion"]["Assertions"]
        regions, region = assertion["Assert"]["!Contains"]
        self.assertEqual(region, {"!Ref": "AWS::Region"})
        self.assertIn("us-east-1", regions)
        self.assertNotIn("eu-west-1", regions)


if __name__ == "__main__":
    unittest.main()
