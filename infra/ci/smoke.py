#!/usr/bin/env python3
"""Production-shaped smoke run of every function (driven by infra/ci/smoke.sh; read its
header for the method). Run with the python of .local/venv (moto's venv: boto3, PyYAML).

    smoke.py --root ROOT --state DIR --stack-env STACK_ENV --cargo-lambda PATH
             --runner qemu|native [--qemu PATH --qemu-sysroot DIR --qemu-cpu CPU]
             [--self-test auto|off]

Steps:
  1. read the local stack's values (stack.env) and template.yaml (raw YAML, CloudFormation
     tags kept as intrinsic functions);
  2. create in moto what the template gives the functions: the three secrets (Secrets
     Manager: the service secret with the stack's DATABASE_URL and REDIS_URL, the token
     secret with TOKEN_SIGNING_KEY, the Toss secret with TOSS_SECRET_KEY) and every resource a function's environment refers to (the
     DynamoDB table with the template's key schema, the event bus);
  3. write the local parameter file (the samconfig of this run: parameter -> value) and
     compute each function's environment from the template: Globals.Function.Environment
     merged with the function's own, every !Ref/!Sub/!GetAtt/!If resolved against the
     parameter file, the parameters' defaults, the pseudo parameters and the local
     resources. Anything that does not resolve fails the run; so do parameter values that
     break the template's constraints (CloudFormation would refuse the deploy);
  4. one `cargo lambda watch --only-lambda-apis`; per function, in dependency order: start
     the deployed artifact (the arm64 bootstrap unzipped from target/lambda/<fn>/bootstrap.zip,
     under qemu) with `env -i` and exactly: the template's environment + what Lambda
     itself sets + AWS_ENDPOINT_URL (the one emulator-only addition); invoke it once with
     events/<fn>.json (values that only exist at run time substituted into a copy: the
     access token, member, profile and order ids, the Toss paymentKey); check the answer
     against EXPECTATIONS below, the function's log (no WARN/ERROR line) and its metrics;
  5. self-test: get-profile again (a fresh watch each) with a deliberately broken template
     parameter; the check must fail (else the smoke itself is broken and the run fails);
  6. print the table; exit status 1 on any failure.

Nothing secret is printed: log tails and answers are passed through redact() (the secret
values and every token issued during the run are replaced by <redacted>).
"""

import argparse
import copy
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile

import boto3
import yaml

HOST = "127.0.0.1"
STACK_NAME = "expert-matching-smoke"
ACCOUNT_ID = "123456789012"  # moto's default account
SECRET_KEYS = ("DATABASE_URL", "REDIS_URL", "TOSS_SECRET_KEY", "TOKEN_SIGNING_KEY")
# template parameter -> the names its secret holds (the template's three secrets).
SECRETS = {
    "ServiceSecretArn": ("DATABASE_URL", "REDIS_URL"),
    "TokenSecretArn": ("TOKEN_SIGNING_KEY",),
    "TossSecretArn": ("TOSS_SECRET_KEY",),
}
LOG_TAIL_LINES = 25

# Variables Lambda sets itself; a template that sets one would fail to deploy.
LAMBDA_RESERVED = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}
ENV_LIMIT_BYTES = 4096  # Lambda: all of a function's environment variables together

# WARN lines that say nothing about the configuration, with why. Every other WARN or ERROR
# line fails the function: a degraded answer (a view sent to the loss ledger, a rate
# limiter failing open) is still a 200, and only the log tells.
BENIGN_WARNINGS = [
    # sqlx's slow-statement alert (1 s): the migrations' DDL on a loaded 2-core machine
    # under emulation; a performance note, not a misconfiguration.
    (re.compile(r"^slow statement: execution time exceeded alert threshold$"), "sqlx slow statement"),
]


class SmokeError(Exception):
    """A configuration problem that stops the run before any function starts."""


_secret_values = set()


def redact(text):
    for value in sorted(_secret_values, key=len, reverse=True):
        if value:
            text = text.replace(value, "<redacted>")
    return text


def log(msg):
    print(f"[smoke] {redact(msg)}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ template
class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) as intrinsic functions."""


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


def merge_globals(globals_part, own):
    """SAM's Globals rule: maps merge (the function's keys win), anything else is replaced."""
    if isinstance(globals_part, dict) and isinstance(own, dict):
        out = dict(globals_part)
        for key, value in own.items():
            out[key] = merge_globals(globals_part.get(key), value) if key in globals_part else value
        return out
    return copy.deepcopy(own if own is not None else globals_part)


NO_VALUE = object()


class Resolver:
    """Evaluates the intrinsic functions of template values for this local deployment."""

    def __init__(self, template, parameters, region, local_resources):
        self.t = template
        self.params = parameters  # name -> value (str, or list for List types)
        self.region = region
        self.local = local_resources  # logical id -> {"ref": ..., "attrs": {...}}
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{STACK_NAME}/smoke",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name, where):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.local:
            return self.local[name]["ref"]
        if name in (self.t.get("Resources") or {}):
            kind = self.t["Resources"][name].get("Type")
            raise SmokeError(f"{where}: !Ref {name} ({kind}) has no local counterpart in the smoke "
                             f"(teach infra/ci/smoke.py's local_resource() about {kind})")
        raise SmokeError(f"{where}: !Ref {name} names neither a parameter nor a resource")

    def getatt(self, name, attr, where):
        if name in self.local and attr in self.local[name].get("attrs", {}):
            return self.local[name]["attrs"][attr]
        raise SmokeError(f"{where}: !GetAtt {name}.{attr} has no local value in the smoke")

    def condition(self, name, where):
        cond = (self.t.get("Conditions") or {}).get(name)
        if cond is None:
            raise SmokeError(f"{where}: unknown condition {name}")
        return self.boolean(cond, f"{where}/Condition {name}")

    def boolean(self, node, where):
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Fn::Equals":
                a, b = (self.value(x, where) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self.boolean(arg[0], where)
            if fn == "Fn::And":
                return all(self.boolean(x, where) for x in arg)
            if fn == "Fn::Or":
                return any(self.boolean(x, where) for x in arg)
            if fn == "Condition":
                return self.condition(arg, where)
        raise SmokeError(f"{where}: cannot evaluate condition {node!r}")

    def value(self, node, where):
        if isinstance(node, bool):
            return "true" if node else "false"
        if isinstance(node, (int, float)):
            return str(node)
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            return [self.value(x, where) for x in node]
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.ref(arg, where)
            if fn == "Fn::GetAtt":
                return self.getatt(arg[0], arg[1], where)
            if fn == "Fn::Sub":
                text, extra = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
                extra = {k: self.value(v, where) for k, v in extra.items()}

                def sub(m):
                    name = m.group(1)
                    if name.startswith("!"):
                        return "${" + name[1:] + "}"
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        res, attr = name.split(".", 1)
                        return str(self.getatt(res, attr, where))
                    v = self.ref(name, where)
                    if v is NO_VALUE or isinstance(v, list):
                        raise SmokeError(f"{where}: ${{{name}}} in !Sub is not a string")
                    return str(v)

                return re.sub(r"\$\{([^}]+)\}", sub, text)
            if fn == "Fn::Join":
                sep, items = arg
                items = self.value(items, where)
                return sep.join(str(x) for x in items if x is not NO_VALUE)
            if fn == "Fn::Select":
                index, items = arg
                return self.value(items, where)[int(self.value(index, where))]
            if fn == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.condition(name, where) else no, where)
            if fn == "Fn::Split":
                sep, text = arg
                return self.value(text, where).split(sep)
        raise SmokeError(f"{where}: cannot resolve {node!r} locally")


def resolve_parameters(template, parameter_file):
    """CloudFormation's parameter handling: file values, else defaults, then constraints."""
    declared = template.get("Parameters") or {}
    values, problems, notes = {}, [], []
    for name in parameter_file:
        if name not in declared:
            notes.append(f"parameter file sets {name}, which the template does not declare (ignored)")
    for name, spec in declared.items():
        kind = str(spec.get("Type", "String"))
        if name in parameter_file:
            raw = parameter_file[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            problems.append(f"template parameter {name} has no default and no value in the local parameter file")
            continue
        if kind.startswith("List<") or kind == "CommaDelimitedList":
            items = raw if isinstance(raw, list) else [x.strip() for x in str(raw).split(",")]
            values[name] = [str(x) for x in items]
            continue
        value = "true" if raw is True else "false" if raw is False else str(raw)
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            problems.append(f"parameter {name}={value!r} does not match its AllowedPattern")
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            problems.append(f"parameter {name}={value!r} is not one of its AllowedValues")
        if kind == "Number":
            try:
                number = float(value)
            except ValueError:
                problems.append(f"parameter {name}={value!r} is not a Number")
                number = None
            if number is not None:
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    problems.append(f"parameter {name}={value} is below its MinValue")
                if "MaxValue" in spec and number > float(spec["MaxValue"]):
                    problems.append(f"parameter {name}={value} is above its MaxValue")
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            problems.append(f"parameter {name} is shorter than its MinLength")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            problems.append(f"parameter {name} is longer than its MaxLength")
        values[name] = value
    return values, problems, notes


def template_functions(template):
    """binary name -> (logical id, properties merged with Globals.Function)."""
    glob = ((template.get("Globals") or {}).get("Function")) or {}
    out = {}
    for logical, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = (((res.get("Metadata") or {}).get("BuildProperties")) or {}).get("Binary")
        if not binary:
            continue
        out[binary] = (logical, merge_globals(glob, res.get("Properties") or {}))
    return out


def refs_in(node, found):
    """Resource names used by Ref / GetAtt / Sub under node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0])
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
            refs_in(v, found)
    elif isinstance(node, list):
        for x in node:
            refs_in(x, found)
    return found


# ------------------------------------------------------------------ local AWS (moto)
class LocalAws:
    def __init__(self, endpoint, region):
        self.kw = dict(endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="test", aws_secret_access_key="test")
        self.region = region

    def client(self, name):
        return boto3.client(name, **self.kw)

    def create_secret(self, name, values):
        sm = self.client("secretsmanager")
        return sm.create_secret(Name=name, SecretString=json.dumps(values))["ARN"]


def local_resource(aws, resolver, logical, res, created):
    """Creates (or names) the local counterpart of a template resource a function uses."""
    kind = res.get("Type")
    props = res.get("Properties") or {}
    where = f"Resources.{logical}"
    region = aws.region
    if kind == "AWS::DynamoDB::Table":
        name = resolver.value(props["TableName"], where) if "TableName" in props \
            else f"{STACK_NAME}-{logical}-{secrets.token_hex(6).upper()}"  # CloudFormation's naming
        args = dict(TableName=name, KeySchema=props["KeySchema"],
                    AttributeDefinitions=props["AttributeDefinitions"],
                    BillingMode=props.get("BillingMode", "PROVISIONED"))
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if key in props:
                args[key] = props[key]
        ddb = aws.client("dynamodb")
        ddb.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.append(f"DynamoDB table {name} (key schema, attributes and TTL from {logical})")
        return {"ref": name, "attrs": {"Arn": f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"}}
    if kind == "AWS::Events::EventBus":
        name = resolver.value(props["Name"], where)
        arn = aws.client("events").create_event_bus(Name=name)["EventBusArn"]
        created.append(f"EventBridge bus {name} ({logical})")
        return {"ref": name, "attrs": {"Arn": arn, "Name": name}}
    if kind == "AWS::Logs::LogGroup":  # named only (the logs stay in the smoke's files)
        name = resolver.value(props.get("LogGroupName", f"{STACK_NAME}-{logical}"), where)
        return {"ref": name, "attrs": {"Arn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{name}:*"}}
    if kind == "AWS::Serverless::Function":
        name = resolver.value(props.get("FunctionName", f"{STACK_NAME}-{logical}"), where)
        return {"ref": name, "attrs": {"Arn": f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"}}
    raise SmokeError(f"{where} ({kind}) is used by a function but the smoke has no local counterpart for it")


# ------------------------------------------------------------------ environments
def function_env(binary, logical, props, resolver):
    """The environment the template gives this function, every value resolved."""
    variables = ((props.get("Environment") or {}).get("Variables")) or {}
    env = {}
    for key, node in variables.items():
        value = resolver.value(node, f"{logical}.Environment.Variables.{key}")
        if value is NO_VALUE:
            continue  # AWS::NoValue: CloudFormation leaves the variable out too
        if isinstance(value, list):
            raise SmokeError(f"{logical}: {key} resolves to a list, not a string")
        env[key] = value
    reserved = sorted(set(env) & LAMBDA_RESERVED)
    if reserved:
        raise SmokeError(f"{logical}: the template sets Lambda-reserved variables {reserved}")
    if "AWS_ENDPOINT_URL" in env:
        raise SmokeError(f"{logical}: the template sets AWS_ENDPOINT_URL (the smoke's emulator addition would mask it)")
    size = sum(len(k) + len(v) for k, v in env.items())
    if size > ENV_LIMIT_BYTES:
        raise SmokeError(f"{logical}: environment is {size} bytes, above Lambda's {ENV_LIMIT_BYTES}")
    return env


def lambda_env(binary, props, resolver, region, runtime_api, aws_endpoint):
    """What Lambda itself adds to every execution environment (provided.al2023), plus
    AWS_ENDPOINT_URL."""
    where = f"function {binary}"
    name = resolver.value(props.get("FunctionName", f"{STACK_NAME}-{binary}"), where)
    logging = props.get("LoggingConfig") or {}
    log_group = resolver.value(logging["LogGroup"], where) if "LogGroup" in logging else f"/aws/lambda/{name}"
    env = {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": resolver.value(props.get("MemorySize", 128), where),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]") + secrets.token_hex(16),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # The execution role's temporary credentials (moto accepts any).
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "_HANDLER": resolver.value(props.get("Handler", "bootstrap"), where),
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        "TZ": ":UTC",
        # THE ONE EMULATOR-ONLY ADDITION: points the AWS SDK (Secrets Manager, DynamoDB,
        # EventBridge) at moto. Everything else comes from the template or is what Lambda
        # sets in every execution environment.
        "AWS_ENDPOINT_URL": aws_endpoint,
    }
    if logging.get("LogFormat") == "JSON":  # advanced logging controls
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        if "ApplicationLogLevel" in logging:
            env["AWS_LAMBDA_LOG_LEVEL"] = resolver.value(logging["ApplicationLogLevel"], where)
    timeout = int(resolver.value(props.get("Timeout", 3), where))
    return env, timeout


# ------------------------------------------------------------------ processes
def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def stop(proc, sig=signal.SIGTERM, timeout=10.0):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Watch:
    """`cargo lambda watch --only-lambda-apis`: the runtime API and invoke API, no functions."""

    def __init__(self, cargo_lambda, root, log_path):
        self.port = free_port()
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [cargo_lambda, "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
             "--invoke-address", HOST, "--invoke-port", str(self.port)],
            cwd=root, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SmokeError(f"cargo lambda watch exited with {self.proc.returncode} (see {log_path})")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise SmokeError("cargo lambda watch did not listen within 60 s")

    def runtime_api(self, name):
        # The watch serves one runtime API per function under /.rt/<name> (as
        # infra/local/bench/coldstart.py uses it); the invoke API routes by the same name.
        return f"http://{HOST}:{self.port}/.rt/{name}"

    def invoke(self, name, payload, timeout):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=payload,
                         headers={"content-type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read(), dict(resp.getheaders())
        finally:
            conn.close()

    def close(self):
        stop(self.proc, signal.SIGINT)
        self.log.close()


class Runner:
    def __init__(self, args):
        self.args = args
        self.task_root = os.path.join(args.state, "task")

    def artifact(self, binary):
        """The deployed bootstrap: unzipped from bootstrap.zip (qemu), or the host build."""
        if self.args.runner == "native":
            return os.path.join(self.args.bin_dir, binary, "bootstrap")
        zip_path = os.path.join(self.args.root, "target", "lambda", binary, "bootstrap.zip")
        task = os.path.join(self.task_root, binary)
        if not os.path.isdir(task):
            os.makedirs(task)
            with zipfile.ZipFile(zip_path) as z:
                z.extractall(task)
            os.chmod(os.path.join(task, "bootstrap"), 0o755)
        return os.path.join(task, "bootstrap")

    def argv(self, binary, env):
        # `env -i`: nothing of this shell's environment reaches the function.
        cmd = ["/usr/bin/env", "-i"] + [f"{k}={v}" for k, v in sorted(env.items())]
        bootstrap = self.artifact(binary)
        if self.args.runner == "qemu":
            # Lambda arm64 = Graviton2 = Neoverse N1: the CPU model the binaries target.
            cmd += [self.args.qemu, "-L", self.args.qemu_sysroot, "-cpu", self.args.qemu_cpu]
        return cmd + [bootstrap], os.path.dirname(bootstrap)


def run_function(watch, runner, name, env, payload, deadline_s, log_path):
    """Starts the function, invokes it once, stops it. Returns a dict describing the run."""
    with open(log_path, "wb") as logf:
        argv, cwd = runner.argv(name, env)
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        result = {}

        def invoke():
            try:
                result["status"], result["body"], result["headers"] = watch.invoke(name, payload, deadline_s + 5)
            except OSError as e:
                result["error"] = repr(e)
            result["t1"] = time.perf_counter()

        thread = threading.Thread(target=invoke, daemon=True)
        thread.start()
        limit = time.monotonic() + deadline_s
        while thread.is_alive() and proc.poll() is None and time.monotonic() < limit:
            thread.join(0.01)
        thread.join(0.2)  # an answer and an exit can race
        out = {"ms": (time.perf_counter() - t0) * 1000}
        if "t1" in result:
            out["ms"] = (result["t1"] - t0) * 1000
        if "status" in result:
            out.update(status=result["status"], body=result["body"])
        elif "error" in result:
            out["fail"] = f"invoke failed: {result['error']}"
        elif proc.poll() is not None:
            out["fail"] = f"the function exited with status {proc.returncode} before answering (cold start failed)"
        else:
            out["fail"] = f"no answer within {deadline_s:.0f} s (init allowance + the template's Timeout)"
        time.sleep(0.05)
        if "fail" not in out and proc.poll() is not None:
            out["fail"] = f"the function exited with status {proc.returncode} after answering"
        if proc.poll() is None:
            # What the running process really has (env has exec'd the function by now).
            try:
                with open(f"/proc/{proc.pid}/environ", "rb") as f:
                    seen = dict(item.decode().split("=", 1) for item in f.read().split(b"\0") if item)
                out["env_diff"] = sorted(set(seen) ^ set(env)) + sorted(k for k in env if k in seen and seen[k] != env[k])
                out["env_checked"] = True
            except OSError:
                pass
        stop(proc)
    with open(log_path, "rb") as f:
        out["log"] = f.read().decode("utf-8", "replace")
    return out


# ------------------------------------------------------------------ checks
def parse_log(text):
    """(problems, metrics, notes) from a function's output: JSON log lines and EMF lines."""
    problems, metrics, notes = [], {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            if re.search(r"panicked at|SIGILL|Illegal instruction|Segmentation fault|qemu:", line):
                problems.append(f"output: {line[:200]}")
            continue
        if not isinstance(doc, dict):
            continue
        if "_aws" in doc:
            for m in doc["_aws"].get("CloudWatchMetrics", [{}])[0].get("Metrics", []):
                metrics[m["Name"]] = metrics.get(m["Name"], 0) + doc.get(m["Name"], 0)
            continue
        level = str(doc.get("level", "")).upper()
        if level in ("WARN", "WARNING", "ERROR"):
            fields = doc.get("fields") or {}
            msg = fields.get("message", "")
            err = fields.get("error", "")
            benign = next((why for rx, why in BENIGN_WARNINGS if level != "ERROR" and rx.search(str(msg))), None)
            if benign:
                notes.append(benign)
                continue
            problems.append(f"log {level}: {msg}{' - ' + str(err) if err else ''}"[:300])
    return problems, metrics, notes


def body_json(run):
    try:
        return json.loads(run["body"])
    except (KeyError, ValueError):
        return None


class Check:
    def __init__(self):
        self.problems = []

    def expect(self, ok, what):
        if not ok:
            self.problems.append(what)
        return ok


def http_answer(doc, status, c):
    """The API Gateway proxy response -> (status, parsed body) with the envelope checked."""
    if not c.expect(isinstance(doc, dict) and "statusCode" in doc, f"not an HTTP response: {str(doc)[:120]}"):
        return None, None
    c.expect(doc["statusCode"] == status, f"statusCode {doc['statusCode']}, expected {status}")
    try:
        body = json.loads(doc.get("body") or "null")
    except ValueError:
        c.expect(False, "body is not JSON")
        return doc["statusCode"], None
    if isinstance(body, dict) and doc["statusCode"] != status:
        c.expect(False, f"code {body.get('code')}: {body.get('message')}")
    return doc["statusCode"], body


def result_of(doc, status, c):
    code, body = http_answer(doc, status, c)
    if body is None:
        return code, {}
    c.expect(body.get("code") == "SUCCESS", f"envelope code {body.get('code')!r}, expected SUCCESS")
    result = body.get("result")
    c.expect(isinstance(result, dict), "no result object")
    return code, result if isinstance(result, dict) else {}


def job_summary(doc, c, key):
    if not c.expect(isinstance(doc, dict), "answer is not a JSON object"):
        return {}
    c.expect("errorType" not in doc and "errorMessage" not in doc,
             f"job error {doc.get('errorType')}: {doc.get('errorMessage')}")
    c.expect(key in doc, f"summary has no {key!r}")
    return doc


def at_now(event):
    """The request time a real caller's event carries: API Gateway stamps every request, the
    scheduler its run. (The fixtures' times are in the past: an access token signup/login
    issue for such a request would already have expired, rightly refused by the authorizer.)"""
    now = time.time()
    rc = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(rc, dict) and "timeEpoch" in rc:
        rc["timeEpoch"] = int(now * 1000)
        rc["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    elif isinstance(event, dict) and event.get("source") == "aws.scheduler" and "time" in event:
        event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return event


# Each expectation: prepare(event, ctx) -> event to send; check(doc, ctx, c, run) -> answer text.
def prep_identity(event, ctx):
    return event


def set_caller(event, ctx):
    """The member the authorizer would pass, and the same member in a JSON body."""
    if "memberId" in ctx:
        auth = event.setdefault("requestContext", {}).setdefault("authorizer", {}).setdefault("lambda", {})
        auth["memberId"] = str(ctx["memberId"])
        if event.get("body"):
            body = json.loads(event["body"])
            if "memberId" in body:
                body["memberId"] = ctx["memberId"]
            event["body"] = json.dumps(body, ensure_ascii=False)
    token = ctx.get("loginToken") or ctx.get("signupToken")
    if token and "authorization" in (event.get("headers") or {}):
        event["headers"]["authorization"] = f"Bearer {token}"
    return event


def set_path_param(event, name, value):
    old = event["pathParameters"][name]
    event["pathParameters"][name] = str(value)
    for holder, key in ((event, "rawPath"), (event["requestContext"]["http"], "path")):
        holder[key] = holder[key].replace(old, str(value))
    ctx_route = event["requestContext"].get("routeArn")
    if ctx_route:
        event["requestContext"]["routeArn"] = ctx_route.replace(old, str(value))
    return event


def check_migrate(doc, ctx, c, run):
    want = ctx["migrations"]
    c.expect(doc == {"appliedMigrations": want}, f"answer {doc}, expected {{'appliedMigrations': {want}}}")
    return f"appliedMigrations={doc.get('appliedMigrations') if isinstance(doc, dict) else '?'}"


def check_signup(doc, ctx, c, run):
    code, r = result_of(doc, 201, c)
    for key in ("memberId", "profileId"):
        c.expect(isinstance(r.get(key), int) and r[key] > 0, f"result.{key} missing")
    c.expect(bool(r.get("accessToken")) and r.get("tokenType") == "Bearer", "no Bearer accessToken")
    if not c.problems:
        ctx.update(memberId=r["memberId"], profileId=r["profileId"], signupToken=r["accessToken"])
        _secret_values.add(r["accessToken"])
    return f"{code} profileId={r.get('profileId')}"


def check_login(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    c.expect(r.get("memberId") == ctx.get("memberId"), f"result.memberId {r.get('memberId')}, expected signup's {ctx.get('memberId')}")
    c.expect(bool(r.get("accessToken")), "no accessToken")
    if r.get("accessToken"):
        ctx["loginToken"] = r["accessToken"]
        _secret_values.add(r["accessToken"])
    return f"{code} memberId={r.get('memberId')} token"


def prep_authorizer(event, ctx):
    token = ctx.get("loginToken") or ctx.get("signupToken")
    if token:
        event["headers"]["authorization"] = f"Bearer {token}"
        event["identitySource"] = [f"Bearer {token}"]
    return event


def check_authorizer(doc, ctx, c, run):
    ok = isinstance(doc, dict)
    c.expect(ok and doc.get("isAuthorized") is True, f"isAuthorized {doc.get('isAuthorized') if ok else doc!r}, expected true for login's token")
    member = (doc.get("context") or {}).get("memberId") if ok else None
    c.expect(member == str(ctx.get("memberId")), f"context.memberId {member!r}, expected {str(ctx.get('memberId'))!r}")
    return f"isAuthorized={doc.get('isAuthorized') if ok else '?'} memberId={member}"


def prep_get_profile(event, ctx):
    return set_path_param(event, "profileId", ctx["profileId"]) if "profileId" in ctx else event


def check_get_profile(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    c.expect(r.get("profileId") == ctx.get("profileId"), f"result.profileId {r.get('profileId')}, expected {ctx.get('profileId')}")
    c.expect(r.get("name") == ctx["signupName"], "result.name is not the signed-up name")
    want = ctx["redisViews"] + 1  # every earlier view Redis counted, and this one
    c.expect(r.get("viewCount") == want, f"viewCount {r.get('viewCount')}, expected {want}")
    # A view Redis did not take still answers 200 (it goes to the DynamoDB loss ledger):
    # only the function's own metric tells where it went.
    counted = run["metrics"].get("ViewsCounted") == 1
    c.expect(counted, f"metrics {sorted(run['metrics'])}: the view was not counted in Redis (ViewsCounted != 1)")
    if counted:
        ctx["redisViews"] += 1
    return f"{code} viewCount={r.get('viewCount')} ViewsCounted={run['metrics'].get('ViewsCounted', 0):g}"


def check_edit_profile(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    c.expect(r.get("profileId") == ctx.get("profileId"), f"result.profileId {r.get('profileId')}, expected {ctx.get('profileId')}")
    # events/edit-profile.json's body: the edit is answered as saved.
    c.expect(r.get("headline") == "데이터 엔지니어 12년" and r.get("careerYears") == 12, "the edit is not in the answer")
    # An edit counts no view; the cached document was replaced in Redis.
    c.expect(r.get("viewCount") == ctx["redisViews"], f"viewCount {r.get('viewCount')}, expected {ctx['redisViews']}")
    c.expect(r.get("countsLive") is True, f"countsLive {r.get('countsLive')!r}: the view counter is unavailable")
    return f"{code} headline edited, viewCount={r.get('viewCount')}"


def check_list_profiles(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    items = r.get("items") or []
    c.expect(any(i.get("profileId") == ctx.get("profileId") for i in items), "the signed-up profile is not listed")
    c.expect(r.get("countsLive") is True, f"countsLive {r.get('countsLive')!r}: the view counter is unavailable")
    return f"{code} items={len(items)} countsLive={r.get('countsLive')}"


def check_checkout(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    params = ctx["parameters"]
    c.expect(bool(r.get("orderId")), "no result.orderId")
    c.expect(r.get("amount") == ctx["checkoutAmount"], f"amount {r.get('amount')}, expected {ctx['checkoutAmount']}")
    c.expect(r.get("memberId") == ctx.get("memberId"), "memberId is not the caller")
    # Template parameters that reach the browser through checkout's environment.
    for key, param in (("clientKey", "TossClientKey"), ("successUrl", "TossSuccessUrl"), ("failUrl", "TossFailUrl")):
        c.expect(r.get(key) == params.get(param), f"result.{key} is not the {param} parameter")
    if not c.problems:
        ctx.update(orderId=r["orderId"], amount=r["amount"], orderName=r.get("orderName"))
    return f"{code} orderId={r.get('orderId')}"


def prep_confirm(event, ctx):
    event = set_caller(event, ctx)
    if "paymentKey" in ctx:
        body = json.loads(event["body"])
        body.update(orderId=ctx["orderId"], paymentKey=ctx["paymentKey"], amount=ctx["amount"])
        event["body"] = json.dumps(body, ensure_ascii=False)
    return event


def check_confirm(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    c.expect(r.get("status") == "DONE", f"payment status {r.get('status')!r}, expected DONE")
    c.expect(r.get("orderId") == ctx.get("orderId"), "another orderId")
    c.expect(r.get("pointsCharged") == ctx.get("amount"), f"pointsCharged {r.get('pointsCharged')}, expected {ctx.get('amount')}")
    events = ctx["observer"].wait_for(ctx.get("orderId"), 5.0)
    c.expect(events >= 1, "no payment event for the order reached the event bus")
    return f"{code} status={r.get('status')} busEvents={events}"


def prep_payment_status(event, ctx):
    event = set_caller(event, ctx)
    return set_path_param(event, "orderId", ctx["orderId"]) if "orderId" in ctx else event


def check_payment_status(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    c.expect(r.get("orderId") == ctx.get("orderId") and r.get("status") == "DONE",
             f"order {r.get('orderId')} status {r.get('status')!r}, expected DONE")
    return f"{code} status={r.get('status')}"


def check_get_me(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    c.expect(r.get("memberId") == ctx.get("memberId"), f"memberId {r.get('memberId')}, expected the caller")
    # After confirm: the purchase's points are the balance, in one open lot.
    c.expect(r.get("points") == ctx.get("amount"), f"points {r.get('points')}, expected {ctx.get('amount')}")
    c.expect(r.get("openLots") == 1, f"openLots {r.get('openLots')}, expected 1")
    c.expect((r.get("profile") or {}).get("profileId") == ctx.get("profileId"), "not the caller's profile")
    return f"{code} points={r.get('points')} openLots={r.get('openLots')}"


def check_my_points(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    items = r.get("items") or []
    want = [("PURCHASE", ctx.get("amount"), ctx.get("amount"), ctx.get("orderId"))]
    got = [(i.get("kind"), i.get("amount"), i.get("balanceAfter"), i.get("orderId")) for i in items]
    c.expect(got == want, f"history {got}, expected {want}")
    return f"{code} entries={len(items)}"


def prep_refund(event, ctx):
    event = set_caller(event, ctx)
    return set_path_param(event, "orderId", ctx["orderId"]) if "orderId" in ctx else event


def check_refund(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    # The confirmed purchase, unused and minutes old: all of it back, no fee.
    c.expect(r.get("status") == "DONE", f"refund status {r.get('status')!r}, expected DONE")
    c.expect(r.get("points") == ctx.get("amount") and r.get("refundWon") == ctx.get("amount"),
             f"points {r.get('points')} refundWon {r.get('refundWon')}, expected {ctx.get('amount')}")
    events = ctx["observer"].wait_for(ctx.get("orderId"), 5.0, "PaymentRefunded")
    c.expect(events >= 1, "no PaymentRefunded event for the order reached the event bus")
    return f"{code} status={r.get('status')} refundWon={r.get('refundWon')}"


def check_toss_webhook(doc, ctx, c, run):
    code, r = result_of(doc, 200, c)
    # events/toss-webhook.json names an order this stack never had: logged and ignored,
    # after the function read the delivery and MySQL.
    c.expect(r.get("outcome") == "ignored: not our order", f"outcome {r.get('outcome')!r}")
    return f"{code} outcome={r.get('outcome')}"


def check_flush_views(doc, ctx, c, run):
    s = job_summary(doc, c, "flush")
    c.expect("lossRecovery" in s, "summary has no 'lossRecovery'")
    return "summary flush+lossRecovery" if not c.problems else str(doc)[:60]


def check_recover_view_losses(doc, ctx, c, run):
    job_summary(doc, c, "lossRecovery")
    return "summary lossRecovery" if not c.problems else str(doc)[:60]


def check_recover_payments(doc, ctx, c, run):
    s = job_summary(doc, c, "paymentRecovery").get("paymentRecovery") or {}
    c.expect(s.get("needsAttention", 0) == 0, f"needsAttention {s.get('needsAttention')}")
    return f"examined={s.get('examined')} published={s.get('eventsPublished')}" if s else str(doc)[:60]


# The run order (migrate first; signup before what needs its member, profile and token;
# checkout before confirm, payment-status and the account) and what a correct answer is.
EXPECTATIONS = [
    ("migrate", prep_identity, check_migrate),
    ("signup", prep_identity, check_signup),
    ("login", prep_identity, check_login),
    ("authorizer", prep_authorizer, check_authorizer),
    ("get-profile", prep_get_profile, check_get_profile),
    ("edit-profile", set_caller, check_edit_profile),
    ("list-profiles", prep_identity, check_list_profiles),
    ("checkout", set_caller, check_checkout),
    ("confirm", prep_confirm, check_confirm),
    ("payment-status", prep_payment_status, check_payment_status),
    ("get-me", set_caller, check_get_me),
    ("my-points", set_caller, check_my_points),
    ("refund", prep_refund, check_refund),
    ("toss-webhook", prep_identity, check_toss_webhook),
    ("flush-views", prep_identity, check_flush_views),
    ("recover-view-losses", prep_identity, check_recover_view_losses),
    ("recover-payments", prep_identity, check_recover_payments),
]


class BusObserver:
    """An SQS queue behind a rule on the payment bus: what consumers of the bus would see."""

    def __init__(self, aws, bus):
        sqs = aws.client("sqs")
        self.sqs = sqs
        self.url = sqs.create_queue(QueueName="smoke-payment-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        ev = aws.client("events")
        ev.put_rule(Name="smoke-observer", EventBusName=bus,
                    EventPattern=json.dumps({"source": [{"prefix": ""}]}))
        ev.put_targets(Rule="smoke-observer", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        self.seen = []

    def wait_for(self, order_id, timeout, kind=""):
        """How many events of the order (and of `kind`, e.g. PaymentRefunded) arrived."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for m in msgs.get("Messages", []):
                self.seen.append(m["Body"])
            n = sum(1 for b in self.seen if order_id and order_id in b and kind in b)
            if n or time.monotonic() > deadline:
                return n
            time.sleep(0.2)


def sandbox_authenticate(toss_base, ctx):
    """What the Toss payment window does once the buyer authenticates: a paymentKey."""
    req = urllib.request.Request(
        f"{toss_base}/sandbox/authenticate",
        data=json.dumps({"orderId": ctx["orderId"], "amount": ctx["amount"],
                         "orderName": ctx.get("orderName") or "smoke"}).encode(),
        headers={"content-type": "application/json", "accept": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        ctx["paymentKey"] = json.loads(resp.read())["paymentKey"]


# ------------------------------------------------------------------ main
def read_stack_env(path):
    """The variables stack.env exports (sourced by bash in an empty environment)."""
    out = subprocess.run(
        ["/usr/bin/env", "-i", "/bin/bash", "-c",
         'set -a; source "$1"; exec "$2" -c "import json, os; print(json.dumps(dict(os.environ)))"',
         "_", path, sys.executable],
        check=True, capture_output=True, text=True).stdout
    env = json.loads(out)
    for k in ("PWD", "SHLVL", "_", "OLDPWD"):
        env.pop(k, None)
    return env


def unrelated_ca(state):
    d = os.path.join(state, "unrelated-ca")
    os.makedirs(d, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=smoke unrelated CA", "-keyout", os.path.join(d, "key.pem"),
                    "-out", os.path.join(d, "ca.pem")], check=True, capture_output=True)
    return os.path.join(d, "ca.pem")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--stack-env", required=True)
    p.add_argument("--shape", required=True)
    p.add_argument("--cargo-lambda", required=True)
    p.add_argument("--runner", choices=["qemu", "native"], default="qemu")
    p.add_argument("--bin-dir", help="host binaries (runner native)")
    p.add_argument("--qemu", default="/usr/bin/qemu-aarch64-static")
    p.add_argument("--qemu-sysroot", default="/usr/aarch64-linux-gnu")
    p.add_argument("--qemu-cpu", default="neoverse-n1")
    p.add_argument("--init-allowance", type=float, default=10.0,
                   help="seconds for the init phase on top of the template's Timeout (Lambda's init limit is 10 s)")
    p.add_argument("--timeout-factor", type=float, default=1.0)
    p.add_argument("--self-test", choices=["auto", "off"], default="auto")
    p.add_argument("--only", default="", help="space-separated subset (dependencies are not added)")
    p.add_argument("--parameter-overrides", default="", help="Name=Value ... on top of the local parameter file")
    args = p.parse_args()
    t_start = time.perf_counter()
    os.makedirs(os.path.join(args.state, "logs"), exist_ok=True)

    stack = read_stack_env(args.stack_env)
    for key in SECRET_KEYS:
        if not stack.get(key):
            raise SmokeError(f"stack.env has no {key}")
        _secret_values.add(stack[key])
    region = stack.get("AWS_REGION", "ap-northeast-2")
    redis_url, db_url = stack["REDIS_URL"], stack["DATABASE_URL"]
    redis_cluster = stack.get("REDIS_CLUSTER", "false")
    redis_ca = stack.get("REDIS_CA_FILE", "")
    shape_seen = (f"Redis {'rediss' if redis_url.startswith('rediss://') else 'redis'}"
                  f"{' cluster' if redis_cluster == 'true' else ''}, MySQL "
                  f"{'TLS' if 'ssl-mode=' in db_url.lower() or 'sslmode=' in db_url.lower() else 'plain'}")
    log(f"stack shape asked: {args.shape}; stack.env gives: {shape_seen}")
    if args.shape == "production" and not (redis_url.startswith("rediss://") and redis_cluster == "true"
                                           and "ssl-mode=verify" in db_url.lower()):
        raise SmokeError(f"SMOKE_SHAPE=production but the stack is not production-shaped ({shape_seen}): "
                         "infra/local/stack.sh does not support STACK_SHAPE=production (yet?)")

    template = load_template(os.path.join(args.root, "template.yaml"))
    functions = template_functions(template)
    fn_dirs = sorted(d for d in os.listdir(os.path.join(args.root, "functions"))
                     if os.path.isdir(os.path.join(args.root, "functions", d)))
    order = [e[0] for e in EXPECTATIONS]
    setup_problems = []
    for d in fn_dirs:
        if d not in functions:
            setup_problems.append(f"functions/{d} has no AWS::Serverless::Function (BuildProperties.Binary) in template.yaml")
        if d not in order:
            setup_problems.append(f"functions/{d} has no expectation in infra/ci/smoke.py (EXPECTATIONS)")
        if not os.path.exists(os.path.join(args.root, "events", f"{d}.json")):
            setup_problems.append(f"functions/{d} has no events/{d}.json")
    for b in functions:
        if b not in fn_dirs:
            setup_problems.append(f"template.yaml builds binary {b}, which is not under functions/")
    if setup_problems:
        raise SmokeError("; ".join(setup_problems))

    # ---- moto: the secrets first (their ARNs are parameter values)
    aws = LocalAws(stack["AWS_ENDPOINT_URL"], region)
    secret_arns = {
        param: aws.create_secret(f"{STACK_NAME}-{param.removesuffix('SecretArn').lower()}",
                                 {k: stack[k] for k in names})
        for param, names in SECRETS.items()
    }

    # ---- the local parameter file: what samconfig.toml's parameter_overrides are for a
    # deployment, for this local one. Parameters not set here take the template's default.
    parameter_file = {
        **secret_arns,
        # No VPC locally: placeholders of the right shape (they reach no function's env).
        "SubnetIds": ["subnet-0123456789abcdef0"],
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
        "TossClientKey": stack.get("TOSS_CLIENT_KEY", "test_ck_smoke"),
        "TossApiBase": stack["TOSS_API_BASE"],
        "TossSuccessUrl": "https://smoke.example.com/payments/success",
        "TossFailUrl": "https://smoke.example.com/payments/fail",
        "AllowedOrigins": "https://smoke.example.com",
        "RedisClusterMode": redis_cluster,
        "RedisCaFile": redis_ca,
    }
    # SMOKE_PARAMETER_OVERRIDES="Name=Value ...": try another value (e.g. production's) here.
    for item in args.parameter_overrides.split():
        name, _, value = item.partition("=")
        parameter_file[name] = value
        log(f"parameter override: {name}={value!r}")
    with open(os.path.join(args.state, "parameters.json"), "w") as f:
        json.dump(parameter_file, f, indent=2)
    parameters, problems, notes = resolve_parameters(template, parameter_file)
    for n in notes:
        log(f"note: {n}")
    defaulted = sorted(n for n in parameters if n not in parameter_file)
    log("parameters from the template's defaults: " + ", ".join(
        f"{n}={parameters[n]!r}" for n in defaulted))
    if problems:
        raise SmokeError("; ".join(problems))

    # ---- local counterparts of the resources the functions' configuration refers to
    resolver = Resolver(template, parameters, region, {})
    used = set()
    glob = (template.get("Globals") or {}).get("Function") or {}
    refs_in(glob.get("Environment"), used)
    for _, props in functions.values():
        refs_in(props.get("Environment"), used)
        refs_in(props.get("LoggingConfig"), used)
        refs_in(props.get("FunctionName"), used)
    created = []
    resources = template.get("Resources") or {}
    for name in sorted(used & set(resources)):
        resolver.local[name] = local_resource(aws, resolver, name, resources[name], created)
    for line in created:
        log(f"moto: {line}")
    for param, arn in secret_arns.items():
        log(f"moto: Secrets Manager secret {arn} ({', '.join(SECRETS[param])})")
    bus_name = None
    for name, res in resources.items():
        if res.get("Type") == "AWS::Events::EventBus" and name in resolver.local:
            bus_name = resolver.local[name]["ref"]
    observer = BusObserver(aws, bus_name) if bus_name else None

    # ---- environments
    envs = {}
    for binary, (logical, props) in functions.items():
        envs[binary] = function_env(binary, logical, props, resolver)
    with open(os.path.join(args.state, "environments.json"), "w") as f:
        json.dump(envs, f, indent=2, sort_keys=True)
    keys = sorted(set().union(*[set(e) for e in envs.values()]))
    log(f"template environment: {len(envs)} functions, variables {', '.join(keys)} "
        f"(values in {os.path.join(args.state, 'environments.json')})")

    runner = Runner(args)
    watch = Watch(args.cargo_lambda, args.root, os.path.join(args.state, "logs", "watch.log"))
    signup_event = json.load(open(os.path.join(args.root, "events", "signup.json")))
    checkout_event = json.load(open(os.path.join(args.root, "events", "checkout.json")))
    ctx = {
        "migrations": len([n for n in os.listdir(os.path.join(args.root, "infra", "migrations")) if n.endswith(".sql")]),
        "signupName": json.loads(signup_event["body"])["name"],
        "checkoutAmount": json.loads(checkout_event["body"])["amount"],
        "redisViews": 0,
        "parameters": parameters,
        "observer": observer,
    }
    only = set(args.only.split()) if args.only else None
    rows, failed = [], False
    env_checked = [0, 0]  # runs whose /proc/<pid>/environ was compared, runs

    def run_one(binary, prep, check, env_resolver, label, watch, env_override=None):
        logical, props = functions[binary]
        env = dict(env_override if env_override is not None else envs[binary])
        extra, timeout = lambda_env(binary, props, env_resolver, region, watch.runtime_api(binary), stack["AWS_ENDPOINT_URL"])
        env.update(extra)
        with open(os.path.join(args.root, "events", f"{binary}.json")) as f:
            event = json.load(f)
        payload = json.dumps(prep(at_now(copy.deepcopy(event)), ctx), ensure_ascii=False).encode()
        log_path = os.path.join(args.state, "logs", f"{label}.log")
        deadline = args.init_allowance + timeout * args.timeout_factor
        run = run_function(watch, runner, binary, env, payload, deadline, log_path)
        log_problems, run["metrics"], notes = parse_log(run["log"])
        if notes:
            log(f"{label}: ignored as benign: " + ", ".join(f"{notes.count(n)} x {n}" for n in sorted(set(notes))))
        c = Check()
        answer = "-"
        if "fail" in run:
            c.problems.append(run["fail"])
        elif run["status"] != 200:
            c.problems.append(f"invoke API answered HTTP {run['status']}: {run['body'][:200]!r}")
        else:
            doc = body_json(run)
            try:
                answer = check(doc, ctx, c, run)
            except Exception as e:  # a malformed answer must not crash the smoke
                c.problems.append(f"check raised {type(e).__name__}: {e}")
        c.problems.extend(log_problems)
        if run.get("env_diff"):
            c.problems.append(f"the process environment is not the computed one: {run['env_diff']}")
        run["problems"] = c.problems
        env_checked[0] += 1 if run.get("env_checked") else 0
        env_checked[1] += 1
        run["answer"] = answer
        run["log_path"] = log_path
        return run

    def report_failure(label, run):
        log(f"FAIL {label}:")
        for prob in run["problems"]:
            log(f"    - {prob}")
        tail = run["log"].splitlines()[-LOG_TAIL_LINES:]
        log(f"    last {len(tail)} lines of {run['log_path']}:")
        for line in tail:
            log(f"      | {line[:400]}")

    try:
        for binary, prep, check in EXPECTATIONS:
            if only and binary not in only:
                continue
            if binary == "confirm" and "orderId" in ctx:
                try:
                    sandbox_authenticate(stack["TOSS_API_BASE"], ctx)
                except OSError as e:
                    log(f"Toss sandbox authenticate failed: {e}")
            run = run_one(binary, prep, check, resolver, binary, watch)
            ok = not run["problems"]
            failed |= not ok
            rows.append((binary, run["answer"] if ok else f"{run['answer']}; {run['problems'][0][:100]}"
                         if run["answer"] != "-" else run["problems"][0][:100], "ok" if ok else "FAIL", run["ms"]))
            log(f"{binary}: {'ok' if ok else 'FAIL'} ({run['ms']:.0f} ms) {run['answer']}")
            if not ok:
                report_failure(binary, run)

        # ---- self-test: the same check must fail for a broken configuration.
        if args.self_test == "auto" and (not only or "get-profile" in only):
            declared = template.get("Parameters") or {}
            cases = []
            if "RedisCaFile" in declared and redis_url.startswith("rediss://"):
                cases.append(("RedisCaFile", unrelated_ca(args.state), "a freshly generated unrelated CA"))
            if "RedisClusterMode" in declared:
                # false on a cluster: a plain connection to the seed node, MOVED for keys of
                # other nodes. Profile 1's counter keys share one hash tag, so this depends
                # on which node owns that slot (not the seed, with stack.sh's layout today);
                # were it the seed, the view would count and the run would say "not caught".
                flipped = "false" if parameters.get("RedisClusterMode") == "true" else "true"
                cases.append(("RedisClusterMode", flipped, f"flipped to {flipped}"))
            if not cases:
                # The template has neither Redis knob yet: break the service secret instead
                # (ServiceSecretArn -> a secret whose REDIS_URL points at a closed port).
                dead = f"redis://127.0.0.1:{free_port()}"
                values = {k: stack[k] for k in SECRETS["ServiceSecretArn"]}
                values["REDIS_URL"] = dead
                arn = aws.create_secret(f"{STACK_NAME}-broken-redis", values)
                cases.append(("ServiceSecretArn", arn, "a secret whose REDIS_URL is a closed port"))
            for i, (param, value, why) in enumerate(cases, 1):
                broken_file = dict(parameter_file, **{param: value})
                broken, probs, _ = resolve_parameters(template, broken_file)
                if probs:
                    raise SmokeError(f"self-test parameters: {'; '.join(probs)}")
                r2 = Resolver(template, broken, region, resolver.local)
                logical, props = functions["get-profile"]
                env = function_env("get-profile", logical, props, r2)
                label = f"self-test-{i}-get-profile-{param}"
                # A fresh emulator: the watch routes by binary name, and an invocation a
                # failed earlier get-profile left queued must not reach this one.
                watch2 = Watch(args.cargo_lambda, args.root, os.path.join(args.state, "logs", f"watch-{label}.log"))
                try:
                    run = run_one("get-profile", prep_get_profile, check_get_profile, r2, label, watch2, env_override=env)
                finally:
                    watch2.close()
                # Caught = the function ran (answered, or died at cold start) and the check
                # rejected it; a run the emulator itself refused proves nothing.
                inconclusive = run.get("fail", "").startswith("invoke failed") or run.get("status", 200) != 200
                caught = bool(run["problems"]) and not inconclusive
                failed |= not caught
                # The most telling reason first: a log line or a dead process, else the first.
                rank = lambda x: next((i for i, p in enumerate(("log ", "the function exited", "metrics")) if x.startswith(p)), 9)
                first = sorted(run["problems"], key=rank)[0] if run["problems"] else "the check PASSED"
                verdict = "ok (caught)" if caught else "FAIL (inconclusive)" if inconclusive else "FAIL (not caught)"
                rows.append((f"self-test: get-profile, {param} = {why}", f"rejected: {first[:100]}" if caught else first[:100],
                             verdict, run["ms"]))
                log(f"self-test {param} ({why}): {verdict}")
                for prob in run["problems"]:
                    log(f"    - {prob}")
                if not caught:
                    report_failure(label, run)
                    if not inconclusive:
                        log("the smoke passed a deliberately broken configuration: its checks are too weak")
    finally:
        watch.close()

    total = time.perf_counter() - t_start
    print()
    print(f"Smoke run ({args.shape} shape: {shape_seen}; {'arm64 artifacts under qemu-aarch64 -cpu ' + args.qemu_cpu if args.runner == 'qemu' else 'host x86_64 release binaries'})")
    print()
    w = max(len(r[0]) for r in rows) if rows else 8
    print(f"| {'function'.ljust(w)} | answer | ok | ms |")
    print(f"|{'-' * (w + 2)}|---|---|---:|")
    for name, answer, ok, ms in rows:
        print(redact(f"| {name.ljust(w)} | {answer.replace('|', '/')} | {ok} | {ms:.0f} |"))
    print()
    print(f"process environments equal to the computed ones (read from /proc/<pid>/environ): "
          f"{env_checked[0]} of {env_checked[1]} runs (the others had exited)")
    print(f"smoke.py: {total:.1f} s (functions, moto setup, self-test); "
          f"{'FAILED' if failed else 'all answers correct'}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SmokeError as e:
        log(f"FAIL (configuration): {e}")
        sys.exit(1)
