"""Helpers for the demo (tests/demo.sh): seed the emulator, create an account, stand in for CloudFormation's
ResponseURL, and summarise the functions' answers (the command line prints the GuardDuty state).

    demo.py seed URL N                    -> prints "MANAGEMENT ADMIN"
    demo.py create-account URL NAME       -> prints the new account id
    demo.py catch PORT FILE               -> serves one PUT on PORT and writes its body to FILE
    demo.py cfn FILE                      -> summarises a custom-resource response
    demo.py summary FILE                  -> summarises the responder's answer
    demo.py enrolled URL ACCOUNT ADMIN    -> where the account is now an Enabled member of the admin
    demo.py tamper URL ADMIN MEMBER REGION -> as the admin, stops monitoring MEMBER in REGION (someone else's call)
    demo.py repaired FILE URL MEMBER REGION -> summarises the responder's repair and the member's status now
"""

from __future__ import annotations

import http.server
import json
import sys
import textwrap
import urllib.request

import boto3


def control(url: str, path: str, body=None, method="POST"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())


def seed(url: str, members: int) -> None:
    org = control(url, "/_emulator/organization", {"accounts": members + 1})
    # the findings bucket (a log-archive account's, in us-east-1): S3 is not emulated, the bucket is the world's
    # (and, as with a bucket of another account, the prefix's folder made beforehand)
    bucket = {"region": "us-east-1", "owner": "999988887777", "prefixes": ["guardduty/"]}
    control(url, "/_emulator/export", {"buckets": {"guardduty-findings-demo": bucket}, "verification_seconds": 0})
    print(org["management"], org["accounts"][0])


def create_account(url: str, name: str) -> None:
    client = boto3.client("organizations", region_name="us-east-1", endpoint_url=url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    status = client.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    print(status["AccountId"])


def catch(port: int, path: str) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with open(path, "wb") as f:
                f.write(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    server.handle_request()


def cfn(path: str) -> None:
    r = json.load(open(path))
    text = f"CloudFormation got {r['Status']}: {r['Reason']}"
    print(textwrap.fill(text, width=100, initial_indent="   ", subsequent_indent="     "))


def summary(path: str) -> None:
    answer = json.load(open(path))
    if "batchItemFailures" in answer:
        failures = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
        print(f"   batch answered: {len(failures)} records to retry {failures}")
        return
    report = answer["report"]
    s = report["summary"]
    print(f"   account {report['account']}: member in {s['members_added']} of {s['regions']} regions, "
          f"{s['writes']} writes, {s['failed']} regions failed")


def enrolled(url: str, account: str, admin: str) -> None:
    state = control(url, "/_emulator/state", method="GET")
    regions = sorted({d["region"] for d in state["detectors"] if d["account"] == admin})
    enabled = sorted(m["region"] for m in state["members"]
                     if m["account"] == account and m["status"] == "Enabled")
    print(f"   the responder enrolled {account}: an Enabled member in {len(enabled)} of {len(regions)} regions")
    line = "   "
    for region in enabled:
        if len(line) + len(region) + 2 > 100:
            print(line.rstrip())
            line = "   "
        line += region + ", "
    if enabled:
        print(line.rstrip(", "))


def admin_guardduty(url: str, admin: str, region: str):
    sts = boto3.client("sts", region_name=region, endpoint_url=url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{admin}:role/GuardDutyEnablerAdmin",
                            RoleSessionName="someone")["Credentials"]
    return boto3.client("guardduty", region_name=region, endpoint_url=url,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def member_status(url: str, member: str, region: str) -> str:
    state = control(url, "/_emulator/state", method="GET")
    return next((m["status"] for m in state["members"] if m["account"] == member and m["region"] == region), "none")


def tamper(url: str, admin: str, member: str, region: str) -> None:
    gd = admin_guardduty(url, admin, region)
    detector = gd.list_detectors()["DetectorIds"][0]
    gd.stop_monitoring_members(DetectorId=detector, AccountIds=[member])
    print(f"   someone in the admin account stopped monitoring {member} in {region}: "
          f"{member_status(url, member, region)}")


def repaired(path: str, url: str, member: str, region: str) -> None:
    answer = json.load(open(path))
    failures = answer.get("batchItemFailures")
    if failures:
        raise SystemExit(f"the responder could not repair it: {failures}")
    status = member_status(url, member, region)
    print(f"   the responder repaired it: {member} is {status} in {region} again (written there only)")
    if status != "Enabled":
        raise SystemExit("the tamper was not repaired")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "seed":
        seed(args[0], int(args[1]))
    elif command == "create-account":
        create_account(args[0], args[1])
    elif command == "catch":
        catch(int(args[0]), args[1])
    elif command == "cfn":
        cfn(args[0])
    elif command == "summary":
        summary(args[0])
    elif command == "enrolled":
        enrolled(args[0], args[1], args[2])
    elif command == "tamper":
        tamper(args[0], args[1], args[2], args[3])
    elif command == "repaired":
        repaired(args[0], args[1], args[2], args[3])
    else:
        sys.exit(__doc__)
