"""One librdkafka operation, driven by test/clients/librdkafka-admin.test.ts through Python's confluent-kafka.

Usage: python librdkafka_admin.py '<json command>'   (the venv of scripts/setup.sh: .venv-clients/bin/python)

The command: {"bootstrap": "127.0.0.1:9192", "user": "admin", "password": "...", "mechanism": "SCRAM-SHA-512",
"clientId": "rdk-7", "op": "create_topics", "args": {...}}. One process per command, so each operation has its
own connections and client id, which the test finds its audit events by.

Prints one JSON line: {"results": [{"key": ..., "ok": true, "value": ...} | {"key": ..., "ok": false,
"error": {"code": 29, "name": "TOPIC_AUTHORIZATION_FAILED", "message": "..."}}]}, one entry per future the
AdminClient returned (per topic, per resource, per user, ...). An error of the whole call (bad login, timeout)
is one entry with key null. Exit 0 whenever a JSON line was printed; a bug here exits non-zero with a traceback.
"""

import json
import sys
import time

from confluent_kafka import Consumer, ElectionType, KafkaError, KafkaException, Producer, TopicCollection, TopicPartition
from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel
from confluent_kafka.admin import (
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient, AlterConfigOpType, ConfigEntry,
    ConfigResource, NewPartitions, NewTopic, OffsetSpec, ResourcePatternType, ResourceType, ScramCredentialInfo,
    ScramMechanism, UserScramCredentialDeletion, UserScramCredentialUpsertion,
)

TIMEOUT_S = 30


def config(cmd):
    conf = {
        "bootstrap.servers": cmd["bootstrap"],
        "client.id": cmd["clientId"],
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": cmd["mechanism"],
        "sasl.username": cmd["user"],
        "sasl.password": cmd["password"],
        "broker.address.family": "v4",
        "socket.timeout.ms": 20000,
    }
    if cmd.get("debug"):
        conf["debug"] = cmd["debug"]
    return conf


def error_json(e):
    err = e.args[0] if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError) else None
    if err is None:
        return {"code": None, "name": type(e).__name__, "message": str(e)}
    return {"code": err.code(), "name": err.name(), "message": err.str()}


def settle(futures, describe=lambda v: None, key=str):
    """One result entry per future of a dict {key: future}."""
    out = []
    for k, f in futures.items():
        try:
            out.append({"key": key(k), "ok": True, "value": describe(f.result(timeout=TIMEOUT_S))})
        except Exception as e:  # KafkaException, or a librdkafka error surfaced otherwise
            out.append({"key": key(k), "ok": False, "error": error_json(e)})
    return out


def one(future, describe=lambda v: None):
    return settle({None: future}, describe, key=lambda k: k)


def acl_binding(a, cls=AclBinding):
    return cls(ResourceType[a["resourceType"]], a.get("name"), ResourcePatternType[a.get("pattern", "LITERAL")],
               a.get("principal"), a.get("host"), AclOperation[a["operation"]], AclPermissionType[a["permission"]])


def acl_json(b):
    return {"resourceType": b.restype.name, "name": b.name, "pattern": b.resource_pattern_type.name,
            "principal": b.principal, "host": b.host, "operation": b.operation.name, "permission": b.permission_type.name}


def group_partitions(args):
    parts = [TopicPartition(p["topic"], p["partition"], p.get("offset", -1001)) for p in args.get("partitions", [])]
    return [ConsumerGroupTopicPartitions(args["group"], parts or None)]


def partitions_json(cgtp):
    return [{"topic": tp.topic, "partition": tp.partition, "offset": tp.offset,
             "error": tp.error.name() if tp.error else None} for tp in cgtp.topic_partitions]


def admin_op(cmd):
    global TIMEOUT_S
    a = AdminClient(config(cmd))
    op, args = cmd["op"], cmd.get("args", {})
    TIMEOUT_S = args.get("timeout", TIMEOUT_S)  # short for logins the broker refuses: librdkafka retries until then
    t = {"request_timeout": TIMEOUT_S}
    if op == "create_topics":
        return settle(a.create_topics([NewTopic(x["name"], x.get("partitions", 1), x.get("replicationFactor", -1),
                                                config=x.get("config", {})) for x in args["topics"]], **t))
    if op == "delete_topics":
        return settle(a.delete_topics(args["topics"], **t))
    if op == "create_partitions":
        return settle(a.create_partitions([NewPartitions(args["topic"], args["count"])], **t))
    if op in ("describe_configs", "alter_configs", "incremental_alter_configs"):
        rtype = ResourceType[args.get("resourceType", "TOPIC")]
        key = lambda r: f"{r.restype.name}:{r.name}"
        if op == "describe_configs":
            return settle(a.describe_configs([ConfigResource(rtype, args["name"])], **t),
                          lambda cfg: {k: v.value for k, v in cfg.items() if k in args.get("show", [])}, key)
        if op == "alter_configs":
            return settle(a.alter_configs([ConfigResource(rtype, args["name"], set_config=args["configs"])], **t), key=key)
        entries = [ConfigEntry(c["name"], c.get("value"), incremental_operation=AlterConfigOpType[c["op"]]) for c in args["ops"]]
        return settle(a.incremental_alter_configs([ConfigResource(rtype, args["name"], incremental_configs=entries)], **t), key=key)
    if op == "create_acls":
        return settle(a.create_acls([acl_binding(x) for x in args["acls"]], **t), key=lambda b: acl_json(b)["name"])
    if op == "describe_acls":
        return one(a.describe_acls(acl_binding(args["filter"], AclBindingFilter), **t), lambda bs: [acl_json(b) for b in bs])
    if op == "delete_acls":
        return settle(a.delete_acls([acl_binding(x, AclBindingFilter) for x in args["filters"]], **t),
                      lambda bs: [acl_json(b) for b in bs], key=lambda f: f.name)
    if op == "list_consumer_groups":
        return one(a.list_consumer_groups(**t), lambda r: {"groups": sorted(g.group_id for g in r.valid),
                                                           "errors": [str(e) for e in r.errors]})
    if op == "list_groups":  # the legacy call: ListGroups and DescribeGroups to every broker
        try:
            groups = a.list_groups(timeout=TIMEOUT_S)
            return [{"key": None, "ok": True, "value": [{"id": g.id, "state": g.state} for g in groups]}]
        except Exception as e:
            return [{"key": None, "ok": False, "error": error_json(e)}]
    if op == "describe_consumer_groups":
        return settle(a.describe_consumer_groups(args["groups"], **t),
                      lambda d: {"state": d.state.name, "members": len(d.members), "type": getattr(d.type, "name", None)})
    if op == "delete_consumer_groups":
        return settle(a.delete_consumer_groups(args["groups"], **t))
    if op == "list_consumer_group_offsets":
        return settle(a.list_consumer_group_offsets(group_partitions(args), **t), partitions_json)
    if op == "alter_consumer_group_offsets":
        return settle(a.alter_consumer_group_offsets(group_partitions(args), **t), partitions_json)
    if op == "describe_cluster":
        return one(a.describe_cluster(**t), lambda d: {"clusterId": d.cluster_id, "nodes": sorted(n.id for n in d.nodes)})
    if op == "describe_topics":
        return settle(a.describe_topics(TopicCollection(args["topics"]), **t),
                      lambda d: {"partitions": len(d.partitions), "topicId": str(d.topic_id)})
    if op == "list_topics":
        try:
            md = a.list_topics(timeout=TIMEOUT_S)
            return [{"key": None, "ok": True, "value": sorted(md.topics)}]
        except Exception as e:
            return [{"key": None, "ok": False, "error": error_json(e)}]
    if op == "describe_user_scram_credentials":
        res = a.describe_user_scram_credentials(args.get("users"), **t)
        describe = lambda d: [{"mechanism": i.mechanism.name, "iterations": i.iterations} for i in d.scram_credential_infos]
        return settle(res, describe) if isinstance(res, dict) else one(res, lambda m: {u: describe(d) for u, d in m.items()})
    if op == "alter_user_scram_credentials":
        alterations = []
        for u in args.get("upsert", []):
            info = ScramCredentialInfo(ScramMechanism[u["mechanism"]], u.get("iterations", 4096))
            alterations.append(UserScramCredentialUpsertion(u["user"], info, u["password"].encode(), u.get("salt", "").encode() or None))
        for d in args.get("delete", []):
            alterations.append(UserScramCredentialDeletion(d["user"], ScramMechanism[d["mechanism"]]))
        return settle(a.alter_user_scram_credentials(alterations, **t))
    if op == "list_offsets":
        specs = {"earliest": OffsetSpec.earliest(), "latest": OffsetSpec.latest(), "max_timestamp": OffsetSpec.max_timestamp()}
        req = {TopicPartition(args["topic"], args["partition"]): specs[args["spec"]]}
        return settle(a.list_offsets(req, isolation_level=IsolationLevel.READ_COMMITTED, **t),
                      lambda r: {"offset": r.offset}, key=lambda tp: f"{tp.topic}-{tp.partition}")
    if op == "delete_records":
        return settle(a.delete_records([TopicPartition(args["topic"], args["partition"], args["offset"])], **t),
                      lambda r: {"lowWatermark": r.low_watermark}, key=lambda tp: f"{tp.topic}-{tp.partition}")
    if op == "elect_leaders":
        parts = [TopicPartition(p["topic"], p["partition"]) for p in args["partitions"]] if "partitions" in args else None
        # No request_timeout: confluent-kafka 2.12-2.16 raise SystemError for any keyword argument of elect_leaders.
        return one(a.elect_leaders(ElectionType[args["type"]], parts),
                   lambda r: {f"{tp.topic}-{tp.partition}": (e.name() if e else None) for tp, e in r.items()})
    raise SystemExit(f"unknown op {op}")


def produce(cmd):
    args = cmd["args"]
    p = Producer({**config(cmd), "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    report = []
    for i, value in enumerate(args["values"]):
        p.produce(args["topic"], value=value.encode(), key=f"k{i}".encode(),
                  on_delivery=lambda err, msg: report.append(err))
    left = p.flush(TIMEOUT_S)
    errors = [e.str() for e in report if e is not None]
    if left or errors:
        return [{"key": None, "ok": False, "error": {"code": None, "name": "DELIVERY", "message": f"{left} undelivered, errors {errors}"}}]
    return [{"key": None, "ok": True, "value": {"delivered": len(report)}}]


def consume(cmd):
    args = cmd["args"]
    c = Consumer({**config(cmd), "group.id": args["group"], "auto.offset.reset": "earliest", "enable.auto.commit": False})
    got, errors = [], []
    try:
        c.subscribe([args["topic"]])
        deadline = time.time() + TIMEOUT_S
        while len(got) < args["count"] and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                errors.append(m.error())
                if m.error().fatal() or m.error().code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED):
                    break
                continue
            got.append({"key": m.key().decode(), "value": m.value().decode(), "partition": m.partition(), "offset": m.offset()})
        if got:
            c.commit(asynchronous=False)
    finally:
        c.close()
    if errors and not got:
        e = errors[-1]
        return [{"key": None, "ok": False, "error": {"code": e.code(), "name": e.name(), "message": e.str()}}]
    return [{"key": None, "ok": True, "value": got}]


def main():
    cmd = json.loads(sys.argv[1])
    run = {"produce": produce, "consume": consume}.get(cmd["op"], admin_op)
    try:
        results = run(cmd)
    except KafkaException as e:  # an error of the whole call, raised before any future
        results = [{"key": None, "ok": False, "error": error_json(e)}]
    print(json.dumps({"results": results}), flush=True)


if __name__ == "__main__":
    main()
