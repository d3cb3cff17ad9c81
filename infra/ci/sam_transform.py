"""Offline SAM transform: template.yaml -> plain CloudFormation JSON, plus a few checks.

Usage: sam_transform.py TEMPLATE OUT_JSON [EVENTS_DIR]

What `sam deploy` makes CloudFormation do server-side, without AWS access:
- local CodeUri paths become placeholder S3 locations (what `sam package` would upload);
- parameters are given their defaults, CommaDelimitedList ones as lists (CloudFormation
  hands list parameters to the transform as lists);
- managed-policy *names* would need an IAM lookup: the loader refuses, so the template
  must use ARNs or statements.
Then it checks what the transform makes visible (exit status 1 on any finding):
- every template parameter is referenced (cfn-lint's W2001 cannot tell on the output,
  where SAM has inlined some parameter values, so the caller disables W2001 there);
- no function has a secret in its environment (they come from Secrets Manager);
- every function's role but the authorizer's has the service-secret policy (the
  authorizer gets neither it nor SECRET_ID); the token secret (TOKEN_SECRET_ID
  and its read policy) reaches exactly signup, login and the authorizer, the Toss secret
  (TOSS_SECRET_ID and its policy) exactly the functions that call Toss; every function
  but the authorizer has reserved concurrency;
- with EVENTS_DIR: every sample event is JSON, and every HTTP sample names a route the
  template declares.
"""
import json
import os
import re
import sys

# The translator only needs a region name (for the partition); no AWS call is made.
os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-2")
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

SECRET_ENV = {"DATABASE_URL", "REDIS_URL", "TOSS_SECRET_KEY", "TOKEN_SIGNING_KEY"}
SECRET_POLICY = "ServiceSecretReadPolicy"
NO_DATABASE = {"AuthorizerFunction"}
# secret variable -> (its read policy, the only functions that may have either)
SCOPED_SECRETS = {
    "TOKEN_SECRET_ID": ("TokenSecretReadPolicy", {"SignupFunction", "LoginFunction", "AuthorizerFunction"}),
    "TOSS_SECRET_ID": ("TossSecretReadPolicy", {"ConfirmFunction", "RefundFunction", "TossWebhookFunction", "RecoverPaymentsFunction"}),
}


class OfflinePolicyLoader:
    """Managed-policy name lookups need IAM; fail loudly if the template ever needs one."""

    def load(self):
        raise RuntimeError("template needs a managed-policy name lookup (IAM); use ARNs or statements")


def referenced_names(node, found):
    """Names used by Ref, Fn::Sub and Fn::If/Condition anywhere under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
            referenced_names(value, found)
    elif isinstance(node, list):
        for item in node:
            referenced_names(item, found)
    return found


def main():
    src, dst = sys.argv[1], sys.argv[2]
    events_dir = sys.argv[3] if len(sys.argv) > 3 else None
    problems = []
    with open(src) as f:
        sam = yaml_parse(f.read())

    parameters = sam.get("Parameters", {})
    used = referenced_names({k: v for k, v in sam.items() if k != "Parameters"}, set())
    problems += [f"parameter {p} is never referenced" for p in parameters if p not in used]

    for name, res in sam.get("Resources", {}).items():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str) \
                and not props["CodeUri"].startswith("s3://"):
            props["CodeUri"] = f"s3://placeholder-artifacts/{name}.zip"
    params = {
        name: [v.strip() for v in str(p["Default"]).split(",")]
        for name, p in parameters.items()
        if p.get("Type") == "CommaDelimitedList" and "Default" in p
    }
    cfn = transform(sam, params, OfflinePolicyLoader())
    with open(dst, "w") as f:
        json.dump(cfn, f, indent=2)

    resources = cfn["Resources"]
    counts = {}
    for res in resources.values():
        counts[res["Type"]] = counts.get(res["Type"], 0) + 1
    print(f"transformed {src} -> {dst}: {len(resources)} resources")
    for kind in sorted(counts):
        print(f"  {counts[kind]:3d} {kind}")

    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    for name, fn in sorted(functions.items()):
        props = fn["Properties"]
        env = set((props.get("Environment") or {}).get("Variables", {}))
        if env & SECRET_ENV:
            problems.append(f"{name}: secret in its environment: {sorted(env & SECRET_ENV)}")
        variables = (props.get("Environment") or {}).get("Variables", {})
        role = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
        arns = resources.get(role, {}).get("Properties", {}).get("ManagedPolicyArns", [])
        if name in NO_DATABASE:
            # No database, no service secret: neither its id nor its read policy.
            if variables.get("SECRET_ID", "") != "" or {"Ref": SECRET_POLICY} in arns:
                problems.append(f"{name}: gets the service secret, which it does not use")
        else:
            if "SECRET_ID" not in env:
                problems.append(f"{name}: no SECRET_ID in its environment")
            if {"Ref": SECRET_POLICY} not in arns:
                problems.append(f"{name}: role {role} lacks {SECRET_POLICY}")
        for variable, (policy, allowed) in SCOPED_SECRETS.items():
            wanted = name in allowed
            if (variable in env) != wanted:
                problems.append(f"{name}: {variable} {'missing' if wanted else 'given to a function that does not use it'}")
            if ({"Ref": policy} in arns) != wanted:
                problems.append(f"{name}: {policy} {'missing' if wanted else 'on a function that does not use it'}")
        if name not in NO_DATABASE and "ReservedConcurrentExecutions" not in props:
            problems.append(f"{name}: opens MySQL connections but has no reserved concurrency")
    print(f"checked {len(functions)} functions: secrets only via SECRET_ID + {SECRET_POLICY}, "
          f"{', '.join(SCOPED_SECRETS)} only where used, "
          f"reserved concurrency on all but {', '.join(sorted(NO_DATABASE))}; "
          f"{len(parameters)} parameters all referenced")

    if events_dir:
        routes = set()
        for res in sam["Resources"].values():
            for event in ((res.get("Properties") or {}).get("Events") or {}).values():
                if event.get("Type") == "HttpApi":
                    routes.add(f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}")
        names = sorted(n for n in os.listdir(events_dir) if n.endswith(".json"))
        for name in names:
            try:
                with open(os.path.join(events_dir, name)) as f:
                    event = json.load(f)
            except ValueError as e:
                problems.append(f"{events_dir}/{name}: not JSON: {e}")
                continue
            route = event.get("routeKey") if isinstance(event, dict) else None
            if route and route not in routes:
                problems.append(f"{events_dir}/{name}: routeKey {route!r} is not a route of the template")
        print(f"checked {len(names)} sample events in {events_dir}: JSON, routeKeys among {len(routes)} routes")

    for problem in problems:
        print(f"ERROR {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
